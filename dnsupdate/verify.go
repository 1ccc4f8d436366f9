package dnsupdate

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultVerifyTimeout bounds Verify when its context has no deadline.
const DefaultVerifyTimeout = 30 * time.Second

// verifyPollMax is the longest pause between two polls of one server: short,
// so the time a secondary took is measured to within a tenth of a second
// (an unsigned A and AAAA query ten times a second is nothing to a server).
const verifyPollMax = 100 * time.Millisecond

// VerifyResult is how one server fared in Verify.
type VerifyResult struct {
	// Server is the server's "host:port".
	Server string
	// Took is the time from the start of Verify until the server answered
	// the wanted set; zero when it did not.
	Took time.Duration
	// Err says why the server did not answer the wanted set in time; nil on
	// success.
	Err error
}

// Verify waits until each of servers (typically the zone's secondaries)
// answers exactly want for name, polling each one in parallel with unsigned
// queries until the context ends (DefaultVerifyTimeout when it has no
// deadline). It returns one result per server, in order, and an ErrVerify
// error when any of them did not get there. The answer itself is compared,
// not the SOA serial: a serial says a transfer happened, the answer says
// clients see the new address.
func (c *Client) Verify(ctx context.Context, name string, want []netip.Addr, servers []string) ([]VerifyResult, error) {
	fqdn, err := c.Qualify(name)
	if err != nil {
		return nil, fmt.Errorf("verify addresses: %w", err)
	}
	want, err = normalize(want)
	if err != nil {
		return nil, &dnsError{kind: ErrInvalid, msg: fmt.Sprintf("verify %q: a wanted address is not valid", fqdn)}
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultVerifyTimeout)
		defer cancel()
	}
	start := time.Now()
	results := make([]VerifyResult, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Go(func() { results[i] = c.waitFor(ctx, start, withPort(s), fqdn, want) })
	}
	wg.Wait()
	var failed []string
	for _, r := range results {
		if r.Err != nil {
			failed = append(failed, r.Server)
		} else {
			c.log.Info("verified", "name", fqdn, "at", r.Server, "took", r.Took)
		}
	}
	if len(failed) > 0 {
		return results, &dnsError{kind: ErrVerify, msg: fmt.Sprintf(
			"verify %q: %d of %d servers do not answer %s: %s", fqdn, len(failed), len(servers), addrList(want), strings.Join(failed, ", "))}
	}
	return results, nil
}

// waitFor polls server until it answers want or ctx ends.
func (c *Client) waitFor(ctx context.Context, start time.Time, server, fqdn string, want []netip.Addr) VerifyResult {
	res := VerifyResult{Server: server}
	delay := 20 * time.Millisecond
	for {
		got, err := c.lookupAt(ctx, server, fqdn, false)
		if err == nil && slices.Equal(got.Addrs, want) {
			res.Took = time.Since(start)
			return res
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			if err != nil {
				res.Err = &dnsError{kind: ErrVerify, msg: fmt.Sprintf("%s does not answer %s for %q", server, addrList(want), fqdn), cause: err}
			} else {
				res.Err = &dnsError{kind: ErrVerify, msg: fmt.Sprintf("%s still answers %s for %q after %v, want %s",
					server, addrList(got.Addrs), fqdn, time.Since(start).Round(time.Millisecond), addrList(want))}
			}
			return res
		case <-t.C:
		}
		delay = min(2*delay, verifyPollMax)
	}
}

// withPort adds the DNS port to a server address that has none.
func withPort(s string) string {
	if _, _, err := net.SplitHostPort(s); err != nil {
		return net.JoinHostPort(strings.Trim(s, "[]"), "53")
	}
	return s
}
