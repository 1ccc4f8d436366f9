package steps

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/understudy/understudy/dnsupdate"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/executor"
)

var (
	_ executor.DNS         = (*DNSAdapter)(nil)
	_ executor.DNSVerifier = (*DNSAdapter)(nil)
	_ executor.DNSVerifier = (*SwappableDNS)(nil)
)

// DNSAdapter is recover's DNS over a dnsupdate client: compare-and-swap
// replaces with the inventory's TTL, lookups at the authoritative server,
// and verification at the inventory's dns.verify servers.
type DNSAdapter struct {
	Client *dnsupdate.Client
	TTL    time.Duration
	Verify []string // dns.verify: servers that must answer a change
}

// VerifyDNS waits until every dns.verify server answers want for name.
func (d *DNSAdapter) VerifyDNS(ctx context.Context, name string, want []netip.Addr) []executor.DNSServerResult {
	if len(d.Verify) == 0 {
		return nil
	}
	res, err := d.Client.Verify(ctx, name, want, d.Verify)
	if res == nil { // the input was unusable: every server counts as unverified
		for _, s := range d.Verify {
			res = append(res, dnsupdate.VerifyResult{Server: s, Err: err})
		}
	}
	out := make([]executor.DNSServerResult, len(res))
	for i, r := range res {
		out[i] = executor.DNSServerResult{Server: r.Server, Took: r.Took, Err: r.Err}
	}
	return out
}

// Replace sets name to addrs if it holds expect.
func (d *DNSAdapter) Replace(ctx context.Context, name string, addrs, expect []netip.Addr) error {
	err := d.Client.Replace(ctx, name, addrs, d.TTL, expect)
	if errors.Is(err, dnsupdate.ErrPrecondition) {
		return fmt.Errorf("%w: %w", recover.ErrPrecondition, err)
	}
	return err
}

// Lookup returns name's addresses at the authoritative server.
func (d *DNSAdapter) Lookup(ctx context.Context, name string) ([]netip.Addr, error) {
	a, err := d.Client.Lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	return a.Addrs, nil
}

// SwappableDNS lets a reload replace the DNS client under running incidents.
type SwappableDNS struct {
	mu  sync.RWMutex
	dns executor.DNS
}

func (s *SwappableDNS) get() executor.DNS {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.dns
}

// Set replaces the DNS client.
func (s *SwappableDNS) Set(d executor.DNS) {
	s.mu.Lock()
	s.dns = d
	s.mu.Unlock()
}

// Replace replaces through the current client.
func (s *SwappableDNS) Replace(ctx context.Context, name string, addrs, expect []netip.Addr) error {
	return s.get().Replace(ctx, name, addrs, expect)
}

// VerifyDNS verifies through the current client, if it can.
func (s *SwappableDNS) VerifyDNS(ctx context.Context, name string, want []netip.Addr) []executor.DNSServerResult {
	if v, ok := s.get().(executor.DNSVerifier); ok {
		return v.VerifyDNS(ctx, name, want)
	}
	return nil
}

// Lookup looks up through the current client.
func (s *SwappableDNS) Lookup(ctx context.Context, name string) ([]netip.Addr, error) {
	return s.get().Lookup(ctx, name)
}
