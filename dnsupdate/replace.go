package dnsupdate

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/miekg/dns"
)

// Replace makes name hold exactly addrs (A for IPv4, AAAA for IPv6; at least
// one) with the given TTL, rounded down to whole seconds, in one UPDATE: the
// name's A and AAAA sets are deleted and the new ones added, atomically.
// Other record types of the name are not touched.
//
// When expect is not empty the update is a compare-and-swap: it applies only
// if the name's address records are exactly expect, nothing more and nothing
// less, across both types. For each of A and AAAA the update carries either a
// value-dependent prerequisite (RFC 2136 §2.4.2: the RRset equals the
// expected records of that type) or, when expect has no address of that type,
// an "RRset does not exist" prerequisite (§2.4.3). So expecting only
// 10.0.0.1 fails if the name also has an AAAA record: a controller that does
// not know every address of a name must not replace them. When the
// prerequisite fails the server changes nothing and Replace returns an
// ErrPrecondition error that says what the name holds now.
//
// With an empty expect the replace is unconditional. After a successful
// update Replace asks the server for the name and returns ErrVerify if it does
// not answer addrs. Timeouts and SERVFAIL are retried; if an attempt timed out
// and a retry then finds the precondition failed because the name already
// holds addrs, the earlier attempt was applied and Replace succeeds.
func (c *Client) Replace(ctx context.Context, name string, addrs []netip.Addr, ttl time.Duration, expect []netip.Addr) error {
	fqdn, err := c.Qualify(name)
	if err != nil {
		return fmt.Errorf("replace addresses: %w", err)
	}
	want, err := normalize(addrs)
	if err != nil || len(want) == 0 {
		return &dnsError{kind: ErrInvalid, msg: fmt.Sprintf("replace %q: give at least one valid address", fqdn)}
	}
	old, err := normalize(expect)
	if err != nil {
		return &dnsError{kind: ErrInvalid, msg: fmt.Sprintf("replace %q: an expected address is not valid", fqdn)}
	}
	if ttl < 0 || ttl > time.Duration(1<<31-1)*time.Second {
		return &dnsError{kind: ErrInvalid, msg: fmt.Sprintf("replace %q: TTL %v out of range", fqdn, ttl)}
	}
	op := fmt.Sprintf("update %q", fqdn)
	start := time.Now()
	_, timedOut, err := c.exchange(ctx, op, c.server, c.key != nil, func() *dns.Msg {
		return c.replaceMsg(fqdn, want, uint32(ttl/time.Second), old)
	})
	if errors.Is(err, ErrPrecondition) {
		return c.preconditionFailed(ctx, fqdn, want, old, timedOut, err)
	}
	if err != nil {
		return err
	}
	c.log.Info("replaced", "name", fqdn, "addrs", want, "expect", old, "took", time.Since(start))
	return c.checkApplied(ctx, fqdn, want)
}

// preconditionFailed explains a failed compare-and-swap with what the name
// holds now, or turns it into success when a timed-out attempt was applied.
func (c *Client) preconditionFailed(ctx context.Context, fqdn string, want, old []netip.Addr, timedOut bool, err error) error {
	cur, lerr := c.Lookup(ctx, fqdn)
	if lerr != nil {
		return err
	}
	if timedOut && slices.Equal(cur.Addrs, want) {
		c.log.Info("replaced by an earlier attempt whose reply was lost", "name", fqdn, "addrs", want)
		return nil
	}
	if slices.Equal(cur.Addrs, old) {
		// The signed NXRRSET was genuine (send verifies every reply), so the
		// record differed when the server evaluated the update.
		return &dnsError{kind: ErrPrecondition, msg: fmt.Sprintf(
			"compare-and-swap of %q at %s failed: the server found the record not holding %s, but it holds that again now: another writer changed it while the update was in flight; record unchanged by this update",
			fqdn, c.server, addrList(old))}
	}
	return &dnsError{kind: ErrPrecondition, msg: fmt.Sprintf(
		"compare-and-swap of %q at %s failed: it holds %s, not the expected %s; record unchanged",
		fqdn, c.server, addrList(cur.Addrs), addrList(old))}
}

// checkApplied asks the primary whether it now answers want.
func (c *Client) checkApplied(ctx context.Context, fqdn string, want []netip.Addr) error {
	got, err := c.Lookup(ctx, fqdn)
	if err != nil {
		return fmt.Errorf("verify update of %q: %w", fqdn, err)
	}
	if !slices.Equal(got.Addrs, want) {
		return &dnsError{kind: ErrVerify, msg: fmt.Sprintf(
			"verify update of %q: %s answers %s after the update, want %s (another writer changed it?)",
			fqdn, c.server, addrList(got.Addrs), addrList(want))}
	}
	return nil
}

// replaceMsg builds the UPDATE: prerequisites from expect, delete the A and
// AAAA sets, add want.
func (c *Client) replaceMsg(fqdn string, want []netip.Addr, ttl uint32, expect []netip.Addr) *dns.Msg {
	m := new(dns.Msg)
	m.SetUpdate(c.zone)
	if len(expect) > 0 {
		for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
			if rrs := addrRRs(fqdn, 0, expect, t); len(rrs) > 0 {
				m.Used(rrs)
			} else {
				m.RRsetNotUsed([]dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: fqdn, Rrtype: t}}})
			}
		}
	}
	m.RemoveRRset([]dns.RR{
		&dns.ANY{Hdr: dns.RR_Header{Name: fqdn, Rrtype: dns.TypeA}},
		&dns.ANY{Hdr: dns.RR_Header{Name: fqdn, Rrtype: dns.TypeAAAA}},
	})
	m.Insert(append(addrRRs(fqdn, ttl, want, dns.TypeA), addrRRs(fqdn, ttl, want, dns.TypeAAAA)...))
	return m
}

// addrRRs returns the A (or AAAA) records for the addresses of that family.
func addrRRs(fqdn string, ttl uint32, addrs []netip.Addr, rrtype uint16) []dns.RR {
	var rrs []dns.RR
	for _, a := range addrs {
		hdr := dns.RR_Header{Name: fqdn, Rrtype: rrtype, Class: dns.ClassINET, Ttl: ttl}
		switch {
		case rrtype == dns.TypeA && a.Is4():
			rrs = append(rrs, &dns.A{Hdr: hdr, A: a.AsSlice()})
		case rrtype == dns.TypeAAAA && a.Is6():
			rrs = append(rrs, &dns.AAAA{Hdr: hdr, AAAA: a.AsSlice()})
		}
	}
	return rrs
}

// normalize unmaps IPv4-in-IPv6, rejects invalid and zoned addresses, sorts
// and removes duplicates, so sets compare with slices.Equal.
func normalize(addrs []netip.Addr) ([]netip.Addr, error) {
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if !a.IsValid() || a.Zone() != "" {
			return nil, fmt.Errorf("invalid address %v", a)
		}
		out = append(out, a.Unmap())
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return slices.Compact(out), nil
}

// addrList formats a set for messages: "[10.0.0.1 10.0.0.2]" or "nothing".
func addrList(addrs []netip.Addr) string {
	if len(addrs) == 0 {
		return "no addresses"
	}
	return fmt.Sprint(addrs)
}
