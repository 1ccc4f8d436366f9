package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// fakeMonitor serves placements from a channel and records suspect reports.
// While down is set, WatchPlacements fails at once, as an unreachable
// monitor would.
type fakeMonitor struct {
	mu       sync.Mutex
	current  map[string]Placement
	subs     map[chan Placement]struct{}
	reports  []string
	why      []string // the reports' reasons, when a test asks (addReason)
	down     bool
	attempts int
	onReport func(service string, r SuspectReport)
}

var _ Monitor = (*fakeMonitor)(nil)

func newFakeMonitor(ps ...Placement) *fakeMonitor {
	m := &fakeMonitor{current: map[string]Placement{}, subs: map[chan Placement]struct{}{}}
	for _, p := range ps {
		m.current[p.Service] = p
	}
	return m
}

func (m *fakeMonitor) WatchPlacements(ctx context.Context, fn func(Placement)) error {
	m.mu.Lock()
	m.attempts++
	if m.down {
		m.mu.Unlock()
		return errors.New("connection refused (fake)")
	}
	ch := make(chan Placement, 64)
	m.subs[ch] = struct{}{}
	snap := make([]Placement, 0, len(m.current))
	for _, p := range m.current {
		snap = append(snap, p)
	}
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.subs, ch)
		m.mu.Unlock()
	}()
	for _, p := range snap {
		fn(p)
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case p, ok := <-ch:
			if !ok {
				return ErrStreamEnded
			}
			fn(p)
		}
	}
}

// publish changes a placement and sends it to every open stream.
func (m *fakeMonitor) publish(p Placement) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.current[p.Service] = p
	for ch := range m.subs {
		ch <- p
	}
}

// breakStreams closes every open stream and sets whether new ones fail.
func (m *fakeMonitor) breakStreams(down bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.down = down
	for ch := range m.subs {
		close(ch)
		delete(m.subs, ch)
	}
}

func (m *fakeMonitor) ReportSuspect(_ context.Context, service string, r SuspectReport) error {
	m.mu.Lock()
	m.reports = append(m.reports, service+" "+r.Address)
	f := m.onReport
	m.mu.Unlock()
	if f != nil {
		f(service, r)
	}
	return nil
}

func (m *fakeMonitor) reported() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.reports...)
}

func (m *fakeMonitor) watchAttempts() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.attempts
}

// fakePinger answers per address: alive addresses after delay, dead ones
// never (until ctx ends). It counts the pings sent.
type fakePinger struct {
	mu    sync.Mutex
	dead  map[netip.Addr]bool
	delay time.Duration
	calls int
	gate  chan struct{} // when non-nil, every ping waits for it
	drop  int           // the next drop pings go unanswered, as lost echoes
}

var _ Pinger = (*fakePinger)(nil)

func newFakePinger() *fakePinger { return &fakePinger{dead: map[netip.Addr]bool{}} }

func (f *fakePinger) Ping(ctx context.Context, addr netip.Addr) (time.Duration, error) {
	f.mu.Lock()
	f.calls++
	dead, delay, gate := f.dead[addr], f.delay, f.gate
	if f.drop > 0 {
		f.drop--
		dead = true
	}
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return 0, fmt.Errorf("no reply: %w", ctx.Err())
		}
	}
	if dead {
		<-ctx.Done()
		return 0, fmt.Errorf("no reply: %w", ctx.Err())
	}
	select {
	case <-time.After(delay):
		return delay, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("no reply: %w", ctx.Err())
	}
}

func (f *fakePinger) setDead(a netip.Addr, dead bool) {
	f.mu.Lock()
	f.dead[a] = dead
	f.mu.Unlock()
}

// dropNext makes the next n pings go unanswered.
func (f *fakePinger) dropNext(n int) {
	f.mu.Lock()
	f.drop = n
	f.mu.Unlock()
}

// setDelay sets how long alive addresses take to answer.
func (f *fakePinger) setDelay(d time.Duration) {
	f.mu.Lock()
	f.delay = d
	f.mu.Unlock()
}

func (f *fakePinger) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// backendServer is an httptest backend on its own loopback address (each
// one on 127.0.0.N, so placements can tell them apart), answering with its
// name.
type backendServer struct {
	*httptest.Server
	name string
	addr netip.Addr
	port int
	hits sync.Map // path -> count, not needed by every test
}

// newBackend starts a backend on 127.0.0.n at the given port (0: any).
func newBackendServer(t *testing.T, n int, port int, name string, h http.Handler) *backendServer {
	t.Helper()
	if h == nil {
		h = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, name) })
	}
	s := httptest.NewUnstartedServer(h)
	addr := netip.AddrFrom4([4]byte{127, 0, 0, byte(n)})
	ln, err := listen(addr, port)
	if err != nil {
		t.Fatalf("listen on %s:%d: %v", addr, port, err)
	}
	s.Listener = ln
	s.Start()
	t.Cleanup(s.Close)
	_, ps, _ := splitHostPort(s.Listener.Addr().String())
	p, _ := strconv.Atoi(ps)
	return &backendServer{Server: s, name: name, addr: addr, port: p}
}

// rig is a proxy under test with its fakes.
type rig struct {
	p      *Proxy
	mon    *fakeMonitor
	ping   *fakePinger
	front  *httptest.Server
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan struct{}
}

// newRig starts a proxy routing "web.test" to port, with the placements
// the monitor starts with. mod may adjust the config.
func newRig(t *testing.T, port int, mod func(*Config), ps ...Placement) *rig {
	t.Helper()
	return newRigWith(t, port, mod, nil, ps...)
}

// newRigWith is newRig with a transport to the backends (nil: the
// proxy's own).
func newRigWith(t *testing.T, port int, mod func(*Config), rt http.RoundTripper, ps ...Placement) *rig {
	t.Helper()
	return newRigMon(t, port, mod, rt, nil, ps...)
}

// newRigMon is newRigWith whose proxy sees the fake monitor through wrap
// (nil: as it is).
func newRigMon(t *testing.T, port int, mod func(*Config), rt http.RoundTripper, wrap func(*fakeMonitor) Monitor, ps ...Placement) *rig {
	t.Helper()
	cfg := Config{
		Services: []Service{{Name: "web", Host: "web.test", Port: port, ProbeTimeout: 10 * time.Millisecond, Hold: 2 * time.Second}},
		Recheck:  5 * time.Millisecond,
	}
	if mod != nil {
		mod(&cfg)
	}
	r := &rig{mon: newFakeMonitor(ps...), ping: newFakePinger(), reg: prometheus.NewRegistry(), done: make(chan struct{})}
	var mon Monitor = r.mon
	if wrap != nil {
		mon = wrap(r.mon)
	}
	p, err := New(cfg, Options{Monitor: mon, Pinger: r.ping, Registerer: r.reg, Logger: testLogger(t), Transport: rt})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	r.p = p
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { defer close(r.done); _ = p.Run(ctx) }()
	r.front = httptest.NewServer(p)
	t.Cleanup(func() {
		r.front.Close()
		cancel()
		<-r.done
	})
	return r
}

// get sends a GET for host through the proxy.
func (r *rig) get(t *testing.T, host string) (int, string, http.Header) {
	t.Helper()
	return r.do(t, http.MethodGet, host, nil)
}

// headersRead is a transport to the backends that reports each response
// whose headers the proxy has read.
type headersRead struct {
	rt   http.RoundTripper
	read chan struct{}
}

func newHeadersRead() *headersRead {
	return &headersRead{rt: &http.Transport{}, read: make(chan struct{}, 8)}
}

func (h *headersRead) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := h.rt.RoundTrip(req)
	if err == nil {
		h.read <- struct{}{}
	}
	return resp, err
}
