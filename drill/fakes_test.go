package drill

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/lxd"
	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/recover"
)

// fakeWorld is a service on loopback: a primary at 127.0.0.1:PORT answering
// "web-vm", a standby at 127.0.0.2:PORT answering "web", a proxy that
// forwards to whichever is current, DNS, an agent and a monitor that fails
// the service over some time after the fault is injected.
type fakeWorld struct {
	t        *testing.T
	name     string // the service (default web): its FQDN NAME.lab.test., its primary NAME-vm
	port     int
	primary  netip.Addr
	standby  netip.Addr
	proxy    string
	mu       sync.Mutex
	broken   bool      // the primary fails (the fault)
	flipped  bool      // DNS and proxy point at the standby
	openedAt time.Time // the incident opened
	incident *IncidentStatus
	state    string
	noFail   bool // the monitor never fails over
	// falseAlarm makes the monitor open and close an incident (a
	// disagreement) between the preflight and the injection.
	falseAlarm bool
	// earlyDisagree makes the first incident of the fault end in a
	// disagreement (the agent still reached the primary); the next one
	// recovers.
	earlyDisagree bool
	damped        time.Time
	// stall makes the primary, once the fault is removed, answer one
	// request and then fail the next stall ones (a container just started
	// that stalls for a moment); stalledAt is its last failure.
	stall     int
	stalledAt time.Time
	resetAt   time.Time
	// answeredAfter: the primary answered once after the fault's removal.
	answeredAfter bool
	calls         int
	seq           int
	resets        int
	fault         *fakeFault
	// marker is what the drill's --marker wrote into the primary (the fake
	// MarkerWriter); synced makes the fake monitor report a sync of it and
	// the standby serve it.
	marker string
	synced bool
}

// WriteFile is the fake MarkerWriter.
func (w *fakeWorld) WriteFile(_ context.Context, instance, path, content string) error {
	if instance != "web-vm" || path != DefaultMarkerPath {
		return fmt.Errorf("write %s in %s: unexpected", path, instance)
	}
	w.mu.Lock()
	w.marker = content
	w.mu.Unlock()
	return nil
}

func newFakeWorld(t *testing.T) *fakeWorld { return newNamedWorld(t, "web") }

// newNamedWorld is a fakeWorld of the service name.
func newNamedWorld(t *testing.T, name string) *fakeWorld {
	w := &fakeWorld{t: t, name: name, primary: netip.MustParseAddr("127.0.0.1"), standby: netip.MustParseAddr("127.0.0.2"), state: "primary"}
	var lp, ls net.Listener
	for range 20 {
		var err error
		if lp, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		w.port = lp.Addr().(*net.TCPAddr).Port
		if ls, err = net.Listen("tcp", fmt.Sprintf("127.0.0.2:%d", w.port)); err == nil {
			break
		}
		lp.Close()
		ls = nil
	}
	if ls == nil {
		t.Skip("cannot listen on 127.0.0.2 with the port of 127.0.0.1")
	}
	serve(t, lp, http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		w.mu.Lock()
		broken, stalling := w.broken, w.fault.removed > 0 && w.stall > 0 && w.answeredAfter
		if w.fault.removed > 0 && !broken {
			w.answeredAfter = true
		}
		if stalling {
			w.stall--
			w.stalledAt = time.Now()
		}
		w.mu.Unlock()
		if broken || stalling {
			http.Error(rw, "down", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(rw, w.name+"-vm")
	}))
	serve(t, ls, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		marker, synced := w.marker, w.synced
		w.mu.Unlock()
		if r.URL.Path == "/understudy-drill-marker.txt" {
			if !synced {
				http.NotFound(rw, r)
				return
			}
			fmt.Fprint(rw, marker)
			return
		}
		fmt.Fprintln(rw, w.name)
	}))
	lx, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w.proxy = lx.Addr().String()
	serve(t, lx, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Host != w.name+".lab.test" {
			http.Error(rw, "misdirected", http.StatusMisdirectedRequest)
			return
		}
		w.mu.Lock()
		flipped, broken := w.flipped, w.broken
		w.mu.Unlock()
		switch {
		case flipped:
			fmt.Fprintln(rw, w.name)
		case broken:
			http.Error(rw, "bad gateway", http.StatusBadGateway)
		default:
			fmt.Fprintln(rw, w.name+"-vm")
		}
	}))
	w.fault = &fakeFault{w: w}
	return w
}

func serve(t *testing.T, l net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
}

func (w *fakeWorld) config() Config {
	return Config{
		Service: w.name, FQDN: w.name + ".lab.test.", Mode: "warm", Port: w.port,
		Primary: Target{Instance: w.name + "-vm", Address: w.primary},
		Kind:    VMStop, Via: ViaBoth, Clients: 2, ProxyAddr: w.proxy,
		Warmup: 100 * time.Millisecond, Tail: 100 * time.Millisecond, Poll: 10 * time.Millisecond,
		Timeout: 20 * time.Second, Load: LoadConfig{Pause: 5 * time.Millisecond}, Lab: true,
		RestoreSettle: 30 * time.Millisecond,
	}
}

func (w *fakeWorld) deps() Deps {
	return Deps{Monitor: w, Agent: fakeAgent{}, DNS: w, Fault: w.fault, Hypervisor: &fakeHV{}}
}

// Lookup is the fake DNS server.
func (w *fakeWorld) Lookup(_ context.Context, name string) ([]netip.Addr, error) {
	if name != w.name+".lab.test." {
		return nil, fmt.Errorf("NXDOMAIN %s", name)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.flipped {
		return []netip.Addr{w.standby}, nil
	}
	return []netip.Addr{w.primary}, nil
}

func (w *fakeWorld) Healthy(context.Context) error { return nil }

// Service is the fake monitor: 30 ms after the fault it detects, 60 ms after
// it flips DNS and the proxy and closes the incident.
func (w *fakeWorld) Service(_ context.Context, name string) (ServiceStatus, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if name != w.name {
		return ServiceStatus{}, errNoService
	}
	w.calls++
	if w.falseAlarm && w.calls == 2 {
		w.seq++
		w.incident = &IncidentStatus{ID: fmt.Sprintf("%s-%d", w.name, w.seq), Result: "disagreement", Source: "monitor",
			Opened: time.Now().Add(-300 * time.Millisecond), Phases: []PhaseStatus{{Phase: "detected", At: time.Now()}}}
	}
	if w.broken && w.earlyDisagree {
		w.earlyDisagree = false
		w.seq++
		now := time.Now()
		w.incident = &IncidentStatus{ID: fmt.Sprintf("%s-%d", w.name, w.seq), Result: "disagreement", Source: "proxy", Opened: now,
			Phases: []PhaseStatus{{Phase: "detected", At: now}, {Phase: "disagreed", At: now}}}
		return ServiceStatus{Service: w.name, State: w.state, Standby: StandbyStatus{Prepared: true}, LastIncident: w.incident, Incidents: w.seq}, nil
	}
	if w.broken && !w.noFail && w.state == "primary" {
		now := time.Now()
		if w.openedAt.IsZero() {
			w.openedAt = now
			w.seq++
			w.incident = &IncidentStatus{ID: fmt.Sprintf("%s-%d", w.name, w.seq), Open: true, Source: "monitor", Opened: now,
				Phases: []PhaseStatus{{Phase: "detected", At: now}}}
		}
		if now.Sub(w.openedAt) > 30*time.Millisecond {
			for _, ph := range []recover.Phase{"confirmed", "fenced", "activating", "activated", "healthy", "dns-flipped", "on-standby"} {
				w.incident.Phases = append(w.incident.Phases, PhaseStatus{Phase: ph, At: now})
			}
			w.incident.Open, w.incident.Result = false, "recovered"
			w.incident.To = w.standby.String()
			if w.synced {
				w.incident.Copy = &api.CopyStatus{AgeMS: 1500, Note: "served from a copy 2s old"}
			}
			w.flipped, w.state = true, "on-standby"
		}
	}
	st := ServiceStatus{Service: w.name, State: w.state, Standby: StandbyStatus{Prepared: true}, LastIncident: w.incident, DampedUntil: w.damped}
	if w.marker != "" {
		w.synced = true
		st.Sync = &api.SyncStatus{LastGood: time.Now()}
	}
	st.Incidents = w.seq
	return st, nil
}

func (w *fakeWorld) Reset(_ context.Context, name, _ string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state == "primary" {
		return errors.New("already on its primary")
	}
	w.state, w.flipped = "primary", false
	w.resets++
	w.resetAt = time.Now()
	return nil
}

// fakeFault breaks the fake primary.
type fakeFault struct {
	w         *fakeWorld
	injectErr error
	injected  int
	removed   int
}

func (f *fakeFault) Inject(context.Context) error {
	f.w.mu.Lock()
	defer f.w.mu.Unlock()
	f.injected++
	if f.injectErr != nil {
		return f.injectErr
	}
	f.w.broken = true
	return nil
}

func (f *fakeFault) Remove(ctx context.Context) error {
	if ctx.Err() != nil {
		return fmt.Errorf("remove with a dead context: %w", ctx.Err())
	}
	f.w.mu.Lock()
	defer f.w.mu.Unlock()
	f.removed++
	f.w.broken = false
	return nil
}

type fakeAgent struct{ err error }

func (a fakeAgent) Ready(context.Context) error { return a.err }

// fakeHV is a hypervisor with one instance per name.
type fakeHV struct {
	mu    sync.Mutex
	state map[string]lxd.State
	execs [][]string
	calls []string
	// execFails is how many further Exec calls fail as LXD 5.0's exec
	// sometimes does on a command that ends at once.
	execFails int
	// execExits1 is how many further Exec calls run a script that exits 1.
	execExits1 int
	// stopAfterFailedExecs: the instance is Stopped once execFails are
	// used up (a force-stop under way made them fail).
	stopAfterFailedExecs bool
}

var _ Hypervisor = (*fakeHV)(nil)

func (h *fakeHV) get(name string) lxd.State {
	if h.state == nil {
		h.state = map[string]lxd.State{}
	}
	st, ok := h.state[name]
	if !ok {
		st = lxd.State{Status: "Running", Running: true}
	}
	return st
}

func (h *fakeHV) set(name string, st lxd.State, call string) {
	h.state[name] = st
	h.calls = append(h.calls, call+" "+name)
}

func (h *fakeHV) State(_ context.Context, name string) (lxd.State, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.get(name), nil
}

func (h *fakeHV) Start(_ context.Context, name string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.get(name)
	h.set(name, lxd.State{Status: "Running", Running: true}, "start")
	return nil
}

func (h *fakeHV) Stop(_ context.Context, name string, _ time.Duration) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.get(name)
	h.set(name, lxd.State{Status: "Stopped"}, "stop")
	return nil
}

func (h *fakeHV) Freeze(_ context.Context, name string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.get(name)
	h.set(name, lxd.State{Status: "Frozen", Frozen: true}, "freeze")
	return nil
}

func (h *fakeHV) Unfreeze(_ context.Context, name string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.get(name).Frozen {
		return errors.New("not frozen")
	}
	h.set(name, lxd.State{Status: "Running", Running: true}, "unfreeze")
	return nil
}

func (h *fakeHV) Exec(_ context.Context, name string, argv []string, _ map[string]string) (lxd.ExecResult, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.get(name).Running {
		return lxd.ExecResult{}, errors.New("instance is not running")
	}
	h.execs = append(h.execs, argv)
	if h.execFails > 0 {
		h.execFails--
		if h.execFails == 0 && h.stopAfterFailedExecs {
			h.state[name] = lxd.State{Status: "Stopped"}
		}
		return lxd.ExecResult{}, errors.New("Failed to retrieve PID of executing child process")
	}
	if h.execExits1 > 0 {
		h.execExits1--
		return lxd.ExecResult{ExitCode: 1}, nil
	}
	return lxd.ExecResult{}, nil
}

// fakeRunner records host commands and keeps iptables rules and link states.
type fakeRunner struct {
	mu     sync.Mutex
	rules  map[string]int // rule spec -> copies
	links  map[string]string
	routes map[string]bool
	log    []string
}

func newFakeRunner() *fakeRunner {
	return &fakeRunner{rules: map[string]int{}, links: map[string]string{"us-host-a": "up"}, routes: map[string]bool{}}
}

func (r *fakeRunner) Run(_ context.Context, argv ...string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cmd := strings.Join(argv, " ")
	r.log = append(r.log, cmd)
	switch {
	case strings.HasPrefix(cmd, "ip -o route get "):
		return []byte(argv[4] + " dev us-host-a src 10.200.0.1 uid 0 \\    cache \n"), nil
	case strings.HasPrefix(cmd, "ip -o -4 addr show dev "):
		return []byte("5: us-host-a    inet 10.200.0.1/24 brd 10.200.0.255 scope global us-host-a\\       valid_lft forever\n"), nil
	case strings.HasPrefix(cmd, "ip route replace unreachable "):
		r.routes[argv[4]] = true
		return nil, nil
	case strings.HasPrefix(cmd, "ip route del unreachable "):
		if !r.routes[argv[4]] {
			return nil, errors.New("RTNETLINK answers: No such process")
		}
		delete(r.routes, argv[4])
		return nil, nil
	case strings.HasPrefix(cmd, "ip link set "):
		r.links[argv[3]] = argv[4]
		return nil, nil
	case strings.HasPrefix(cmd, "iptables -w -I "):
		r.rules[strings.Join(argv[3:], " ")]++
		return nil, nil
	case strings.HasPrefix(cmd, "iptables -w -C "):
		if r.rules[strings.Join(argv[3:], " ")] == 0 {
			out := "iptables: Bad rule (does a matching rule exist in that chain?)."
			return []byte(out), errors.New("exit status 1: " + out)
		}
		return nil, nil
	case strings.HasPrefix(cmd, "iptables -w -D "):
		k := strings.Join(argv[3:], " ")
		if r.rules[k] == 0 {
			out := "iptables: Bad rule (does a matching rule exist in that chain?)."
			return []byte(out), errors.New("exit status 1: " + out)
		}
		r.rules[k]--
		if r.rules[k] == 0 {
			delete(r.rules, k)
		}
		return nil, nil
	}
	return nil, fmt.Errorf("unexpected command %q", cmd)
}
