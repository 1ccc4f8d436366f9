package probe

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"time"
)

// fakePinger answers from a table of addresses; unknown addresses time out.
type fakePinger struct {
	mu    sync.Mutex
	up    map[netip.Addr]bool
	calls int
}

var _ Pinger = (*fakePinger)(nil)

func (p *fakePinger) Ping(ctx context.Context, addr netip.Addr) (time.Duration, error) {
	p.mu.Lock()
	p.calls++
	up := p.up[addr]
	p.mu.Unlock()
	if up {
		return 50 * time.Microsecond, nil
	}
	return 0, errors.New("ping " + addr.String() + ": no echo reply")
}

// fakeHypervisor holds instance states and whether its API answers.
type fakeHypervisor struct {
	mu      sync.Mutex
	apiDown bool
	running map[string]bool
}

var _ Hypervisor = (*fakeHypervisor)(nil)

func (h *fakeHypervisor) State(_ context.Context, instance string) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.apiDown {
		return false, errors.New("connection refused")
	}
	running, ok := h.running[instance]
	if !ok {
		return false, errors.New("instance not found")
	}
	return running, nil
}

func (h *fakeHypervisor) CheckAPI(context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.apiDown {
		return errors.New("connection refused")
	}
	return nil
}

// fakeAgent is a Confirmer that sees the addresses in up as answering and
// records what it was asked.
type fakeAgent struct {
	mu    sync.Mutex
	up    map[string]bool // "icmp 10.0.0.1" or "tcp 10.0.0.1:80"
	err   error           // returned instead of a result when set
	asked []ProbeRequest
}

var _ Confirmer = (*fakeAgent)(nil)

func (a *fakeAgent) Probe(_ context.Context, r ProbeRequest) (ProbeResult, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.asked = append(a.asked, r)
	if a.err != nil {
		return ProbeResult{}, a.err
	}
	key := r.Kind + " " + r.Address
	if r.Kind == "tcp" {
		key = r.Kind + " " + netip.AddrPortFrom(netip.MustParseAddr(r.Address), uint16(r.Port)).String()
	}
	if a.up[key] {
		return ProbeResult{OK: true, RTTMS: 0.1}, nil
	}
	return ProbeResult{Error: "timeout"}, nil
}

func (a *fakeAgent) set(key string, up bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.up == nil {
		a.up = map[string]bool{}
	}
	a.up[key] = up
}

func (a *fakeAgent) requests() []ProbeRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]ProbeRequest(nil), a.asked...)
}

// sliceSink records events.
type sliceSink struct {
	mu     sync.Mutex
	events []Event
}

func (s *sliceSink) Emit(_ context.Context, e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, e)
}

func (s *sliceSink) take() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.events
	s.events = nil
	return out
}
