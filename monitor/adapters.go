package monitor

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/understudy/understudy/dnsupdate"
	"github.com/understudy/understudy/monitor/probe"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/executor"
	"github.com/understudy/understudy/standby"
)

// The adapters from the controller's clients to recover's step interfaces.
var (
	_ executor.Confirmer     = (*confirmer)(nil)
	_ executor.Fencer        = (*fencer)(nil)
	_ executor.Activator     = (*activator)(nil)
	_ executor.HealthChecker = (*healthChecker)(nil)
	_ executor.DNS           = (*DNSAdapter)(nil)
	_ executor.DNSVerifier   = (*DNSAdapter)(nil)
	_ executor.DNSVerifier   = (*swappableDNS)(nil)
)

// confirmer asks the service's standby agent whether the primary is down:
// the service's own HTTP check, or one TCP connect to the service port, from
// the standby VM (a frozen VM still completes TCP handshakes in its kernel,
// so an HTTP service is confirmed over HTTP). When the monitor
// confirmed the failure with the same agent moments ago (its own confirmation
// step, see monitor/README.md), that answer is used instead of asking again.
type confirmer struct{ c *Controller }

func (f *confirmer) ConfirmDown(ctx context.Context, svc recover.Service) (bool, string, error) {
	if at, ok := f.c.confirmedAt(svc.Name); ok {
		return true, fmt.Sprintf("the monitor's agent confirmation at %s", at.UTC().Format(time.RFC3339Nano)), nil
	}
	p := f.c.plan()
	agent, err := f.c.conns.agent(svc.Standby)
	if err != nil {
		return false, "", err
	}
	// The same budget as the monitor's own probes, doubled for the hop
	// through the agent: a confirmation that waits longer only delays the
	// failover of a primary that is really gone.
	timeout := min(max(2*p.Inv.Monitor.Timeout, 100*time.Millisecond), 500*time.Millisecond)
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl)*3/4)
	}
	req := standby.ProbeRequest{Address: svc.Address.String(), Kind: standby.ProbeTCP,
		Port: p.Specs[svc.Name].Port, TimeoutMS: max(int(timeout/time.Millisecond), 1)}
	if s := p.Inv.Service(svc.Name); s != nil && s.Check.HTTP != nil && s.Check.HTTP.Scheme != "https" {
		req.Kind, req.Path, req.ExpectStatus = standby.ProbeHTTP, s.Check.HTTP.Path, s.Check.HTTP.ExpectStatus
	}
	res, err := agent.Probe(ctx, req)
	if err != nil {
		return false, "", fmt.Errorf("ask standby %q to probe %s:%d: %w", svc.Standby, req.Address, req.Port, err)
	}
	if res.OK {
		return false, fmt.Sprintf("standby %q reaches %s:%d by %s (%.2f ms)", svc.Standby, req.Address, req.Port, req.Kind, res.RTTMS), nil
	}
	return true, fmt.Sprintf("standby %q cannot reach %s:%d by %s: %s", svc.Standby, req.Address, req.Port, req.Kind, res.Error), nil
}

// monitorConfirmer is the monitor's Confirmer: it sends the probe to the
// agent of the standby that serves the probed VM.
func (c *Controller) monitorConfirmer() probe.Confirmer {
	return probe.ConfirmerFunc(func(ctx context.Context, r probe.ProbeRequest) (probe.ProbeResult, error) {
		p := c.plan()
		name, ok := p.ByVM[r.Address]
		if !ok && len(p.Inv.Standby) > 0 {
			name = p.Inv.Standby[0].Name
		}
		agent, err := c.conns.agent(name)
		if err != nil {
			return probe.ProbeResult{}, err
		}
		res, err := agent.Probe(ctx, standby.ProbeRequest{Address: r.Address, Kind: standby.ProbeKind(r.Kind), Port: r.Port,
			TimeoutMS: r.TimeoutMS, Path: r.Path, ExpectStatus: r.ExpectStatus})
		if err != nil {
			return probe.ProbeResult{}, fmt.Errorf("ask standby %q to probe %s: %w", name, r.Address, err)
		}
		return probe.ProbeResult{OK: res.OK, RTTMS: res.RTTMS, Error: res.Error}, nil
	})
}

// fencer force-stops the primary's instance through its hypervisor.
type fencer struct{ c *Controller }

func (f *fencer) ForceStop(ctx context.Context, hypervisor, instance string) error {
	hv, err := f.c.conns.hypervisor(ctx, hypervisor)
	if err != nil {
		return err
	}
	if err := hv.Stop(ctx, instance, 0); err != nil {
		return fmt.Errorf("force-stop instance %q on hypervisor %q: %w", instance, hypervisor, err)
	}
	return nil
}

// activator asks the standby agent to activate the service's container.
type activator struct{ c *Controller }

func (a *activator) Activate(ctx context.Context, epoch uint64, service string) (executor.Activation, error) {
	p := a.c.plan()
	name, ok := p.Standbys[service]
	if !ok {
		return executor.Activation{}, fmt.Errorf("service %q: %w", service, executor.ErrUnknownService)
	}
	agent, err := a.c.conns.agent(name)
	if err != nil {
		return executor.Activation{}, err
	}
	act, err := agent.Activate(ctx, epoch, service)
	if err != nil {
		if errors.Is(err, standby.ErrStaleEpoch) || errors.Is(err, standby.ErrNoCapacity) {
			err = fmt.Errorf("%w: %w", recover.ErrPermanent, err)
		}
		return executor.Activation{}, err
	}
	addr, err := netip.ParseAddr(act.Address)
	if err != nil {
		return executor.Activation{}, fmt.Errorf("standby %q answered address %q: %w", name, act.Address, err)
	}
	if pool, ok := p.Pools[name]; ok && !pool.Contains(addr) {
		// Never into DNS: a broken or hostile agent must not steer clients.
		return executor.Activation{}, fmt.Errorf("%w: standby %q answered address %s, outside its pool %s (standby[].network.pool)",
			recover.ErrPermanent, name, addr, pool)
	}
	out := executor.Activation{Address: addr, Restored: act.Restored, Fallback: act.FallbackReason}
	for _, ph := range act.Phases {
		out.Phases = append(out.Phases, recover.AgentPhase{Name: ph.Name, MS: int64(ph.MS + 0.5)})
	}
	return out, nil
}

// healthChecker runs the service's check (the monitor's probe) once.
type healthChecker struct{ c *Controller }

func (h *healthChecker) Check(ctx context.Context, service string, addr netip.Addr) error {
	p := h.c.plan()
	t, ok := p.Checks[service]
	if !ok {
		return fmt.Errorf("service %q: %w", service, executor.ErrUnknownService)
	}
	t.Address = addr.String()
	probe := h.c.probesFor(p)[t.Kind]
	if probe == nil {
		return fmt.Errorf("service %q: no probe of kind %q", service, t.Kind)
	}
	return probe(ctx, t)
}

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

// swappableDNS lets a reload replace the DNS client under running incidents.
type swappableDNS struct {
	mu  sync.RWMutex
	dns executor.DNS
}

func (s *swappableDNS) get() executor.DNS {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.dns
}

func (s *swappableDNS) set(d executor.DNS) {
	s.mu.Lock()
	s.dns = d
	s.mu.Unlock()
}

func (s *swappableDNS) Replace(ctx context.Context, name string, addrs, expect []netip.Addr) error {
	return s.get().Replace(ctx, name, addrs, expect)
}

// VerifyDNS verifies through the current client, if it can.
func (s *swappableDNS) VerifyDNS(ctx context.Context, name string, want []netip.Addr) []executor.DNSServerResult {
	if v, ok := s.get().(executor.DNSVerifier); ok {
		return v.VerifyDNS(ctx, name, want)
	}
	return nil
}

func (s *swappableDNS) Lookup(ctx context.Context, name string) ([]netip.Addr, error) {
	return s.get().Lookup(ctx, name)
}
