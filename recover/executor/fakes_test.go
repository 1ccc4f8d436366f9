package executor

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/understudy/understudy/recover"
)

// Hand-written fakes of the executor's interfaces. They hold state so tests
// assert on outcomes (where the record points, what was activated).

var (
	_ Confirmer     = (*fakeAgent)(nil)
	_ Activator     = (*fakeAgent)(nil)
	_ Fencer        = (*fakeFencer)(nil)
	_ HealthChecker = (*fakeHealth)(nil)
	_ DNS           = (*fakeDNS)(nil)
	_ DNSVerifier   = (*fakeVerifier)(nil)
	_ Notifier      = (*fakeNotifier)(nil)
	_ Execer        = (*fakeExecer)(nil)
)

type fakeAgent struct {
	mu        sync.Mutex
	alive     bool       // the agent reaches the primary
	address   netip.Addr // what activate returns
	failFirst int        // activations that fail before one succeeds
	block     chan struct{}
	started   chan struct{} // receives when an activation starts, if set
	calls     int
	epochs    []uint64
	active    bool
	// confirmErrs is how many confirmations fail (a transient error)
	// before one answers.
	confirmErrs int
}

func (f *fakeAgent) ConfirmDown(_ context.Context, svc recover.Service) (bool, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.confirmErrs > 0 {
		f.confirmErrs--
		return false, "", errors.New("connection reset by peer")
	}
	if f.alive {
		return false, "agent: " + svc.Address.String() + " answers", nil
	}
	return true, "agent: " + svc.Address.String() + " unreachable", nil
}

func (f *fakeAgent) Activate(ctx context.Context, epoch uint64, _ string) (Activation, error) {
	f.mu.Lock()
	f.calls++
	f.epochs = append(f.epochs, epoch)
	block, started := f.block, f.started
	fail := f.failFirst > 0
	if fail {
		f.failFirst--
	}
	f.mu.Unlock()
	if started != nil {
		started <- struct{}{}
	}
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return Activation{}, ctx.Err()
		}
	}
	if fail {
		return Activation{}, errors.New("connection refused")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.active = true
	return Activation{Address: f.address, Phases: []recover.AgentPhase{{Name: "start", MS: 3}}}, nil
}

type fakeFencer struct {
	mu      sync.Mutex
	err     error // every call fails with it
	stopErr error // ForceStop fails with it
	// gate, when set, holds ForceStop until it is closed (or ctx ends).
	gate    chan struct{}
	stopped []string
	frozen  []string
}

func (f *fakeFencer) Freeze(_ context.Context, hv, inst string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.frozen = append(f.frozen, hv+"/"+inst)
	return nil
}

func (f *fakeFencer) ForceStop(ctx context.Context, hv, inst string) error {
	f.mu.Lock()
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	if f.stopErr != nil {
		return f.stopErr
	}
	f.stopped = append(f.stopped, hv+"/"+inst)
	return nil
}

func (f *fakeFencer) calls() (frozen, stopped []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.frozen), slices.Clone(f.stopped)
}

type fakeHealth struct {
	mu        sync.Mutex
	failures  int // checks that fail before one passes
	checked   []netip.Addr
	unhealthy map[netip.Addr]bool // addresses whose check always fails
}

func (f *fakeHealth) Check(_ context.Context, _ string, addr netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checked = append(f.checked, addr)
	if f.unhealthy[addr] {
		return errors.New("connection refused")
	}
	if f.failures > 0 {
		f.failures--
		return errors.New("connection refused")
	}
	return nil
}

type fakeDNS struct {
	mu       sync.Mutex
	records  map[string][]netip.Addr
	replaces int
}

func (f *fakeDNS) Replace(_ context.Context, name string, addrs, expect []netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if expect != nil && !slices.Equal(f.records[name], expect) {
		return recover.ErrPrecondition
	}
	f.replaces++
	f.records[name] = slices.Clone(addrs)
	return nil
}

func (f *fakeDNS) Lookup(_ context.Context, name string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.records[name]), nil
}

// fakeVerifier stands for the dns.verify servers: a converging one answers
// what the primary (the fakeDNS) holds; a stale one never changes, so it
// answers the new set only if the primary already held it.
type fakeVerifier struct {
	primary   *fakeDNS
	mu        sync.Mutex
	servers   []string
	stale     map[string]bool
	deadlines []time.Time // the deadline of each call's context
}

func (f *fakeVerifier) set(servers []string, stale ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.servers, f.stale = servers, map[string]bool{}
	for _, s := range stale {
		f.stale[s] = true
	}
}

func (f *fakeVerifier) VerifyDNS(ctx context.Context, name string, want []netip.Addr) []DNSServerResult {
	f.mu.Lock()
	servers, stale := slices.Clone(f.servers), f.stale
	d, _ := ctx.Deadline()
	f.deadlines = append(f.deadlines, d)
	f.mu.Unlock()
	var out []DNSServerResult
	for _, s := range servers {
		if !stale[s] && slices.Equal(f.primary.get(name), want) {
			out = append(out, DNSServerResult{Server: s, Took: time.Millisecond})
			continue
		}
		<-ctx.Done() // a stale server never converges: wait out the budget
		out = append(out, DNSServerResult{Server: s, Err: fmt.Errorf("%s still answers the old address: %w", s, ctx.Err())})
	}
	return out
}

func (f *fakeDNS) get(name string) []netip.Addr {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.records[name])
}

type fakeNotifier struct {
	mu   sync.Mutex
	sent []Notification
	urls []string
	lost int // incident notifications delivered whose answer is lost (an error)
}

func (f *fakeNotifier) Notify(_ context.Context, url string, n Notification) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, n)
	f.urls = append(f.urls, url)
	if n.Event == "incident" && f.lost > 0 {
		f.lost--
		return context.DeadlineExceeded
	}
	return nil
}

func (f *fakeNotifier) events() []Notification {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sent)
}

type fakeExecer struct {
	mu   sync.Mutex
	runs [][]string // argv followed by env
}

func (f *fakeExecer) Exec(_ context.Context, argv, env []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.runs = append(f.runs, append(slices.Clone(argv), env...))
	return nil
}
