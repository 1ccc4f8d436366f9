package dnsupdate

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"time"

	"github.com/miekg/dns"
)

// Answer is what a server answers for a name's addresses.
type Answer struct {
	// Addrs are the A and AAAA addresses, sorted, IPv4 first. Empty when the
	// name does not exist or has no address records.
	Addrs []netip.Addr
	// TTL is the smallest TTL among the records, zero when there are none.
	TTL time.Duration
}

// Lookup asks the client's server itself (no resolver, no cache, recursion
// not desired) for the A and AAAA records of name, signed with the client's
// key when it has one. The answer must be authoritative, otherwise the error
// is ErrNotAuth. Only records owned by name count: a CNAME is not followed.
func (c *Client) Lookup(ctx context.Context, name string) (Answer, error) {
	fqdn, err := c.Qualify(name)
	if err != nil {
		return Answer{}, fmt.Errorf("look up addresses: %w", err)
	}
	return c.lookupAt(ctx, c.server, fqdn, c.key != nil)
}

// lookupAt queries server for the A and AAAA records of fqdn.
func (c *Client) lookupAt(ctx context.Context, server, fqdn string, sign bool) (Answer, error) {
	var addrs []netip.Addr
	minTTL := uint32(math.MaxUint32)
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		op := fmt.Sprintf("query %q %s", fqdn, dns.TypeToString[t])
		r, _, err := c.exchange(ctx, op, server, sign, func() *dns.Msg {
			m := new(dns.Msg)
			m.SetQuestion(fqdn, t)
			m.RecursionDesired = false
			m.SetEdns0(1232, false)
			return m
		})
		if err != nil {
			return Answer{}, err
		}
		if !r.Authoritative {
			return Answer{}, &dnsError{kind: ErrNotAuth, msg: fmt.Sprintf(
				"%s at %s: the answer is not authoritative: the server does not serve zone %q", op, server, c.zone)}
		}
		for _, rr := range r.Answer {
			if !equalNames(rr.Header().Name, fqdn) {
				continue
			}
			switch rr := rr.(type) {
			case *dns.A:
				addrs = appendAddr(addrs, rr.A)
			case *dns.AAAA:
				addrs = appendAddr(addrs, rr.AAAA)
			default:
				continue
			}
			minTTL = min(minTTL, rr.Header().Ttl)
		}
	}
	addrs, _ = normalize(addrs)
	if len(addrs) == 0 {
		return Answer{}, nil
	}
	return Answer{Addrs: addrs, TTL: time.Duration(minTTL) * time.Second}, nil
}

func appendAddr(addrs []netip.Addr, ip []byte) []netip.Addr {
	if a, ok := netip.AddrFromSlice(ip); ok {
		addrs = append(addrs, a.Unmap())
	}
	return addrs
}

func equalNames(a, b string) bool { return dns.CanonicalName(a) == dns.CanonicalName(b) }
