package proxy

import (
	"context"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// rerouteMonitor is a fakeMonitor that also lists standby addresses and
// records reroute reports.
type rerouteMonitor struct {
	*fakeMonitor
	rmu      sync.Mutex
	standbys map[string]netip.Addr
	reroutes []RerouteReport
}

var (
	_ RerouteReporter = (*rerouteMonitor)(nil)
	_ StandbyLister   = (*rerouteMonitor)(nil)
)

func (m *rerouteMonitor) Standbys(context.Context) (map[string]netip.Addr, error) {
	m.rmu.Lock()
	defer m.rmu.Unlock()
	out := map[string]netip.Addr{}
	for k, v := range m.standbys {
		out[k] = v
	}
	return out, nil
}

func (m *rerouteMonitor) ReportReroute(_ context.Context, service string, r RerouteReport) error {
	m.rmu.Lock()
	defer m.rmu.Unlock()
	if service == "web" {
		m.reroutes = append(m.reroutes, r)
	}
	return nil
}

func (m *rerouteMonitor) reports() []RerouteReport {
	m.rmu.Lock()
	defer m.rmu.Unlock()
	return append([]RerouteReport(nil), m.reroutes...)
}

// cuttable is a primary whose path the test cuts: while cut, it answers
// no echo (the fake pinger) and its requests hang, as when iptables drops
// the proxy's packets.
type cuttable struct {
	cut atomic.Bool
}

func (c *cuttable) handler(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.cut.Load() {
			<-r.Context().Done()
			return
		}
		w.Write([]byte(name))
	})
}

// rerouteRig is a proxy with web on a cuttable primary at 127.0.0.2 and
// its warm standby at 127.0.0.3, which the monitor lists. reroute sets
// the service's Reroute.
type rerouteRig struct {
	*rig
	rm      *rerouteMonitor
	primary *backendServer
	standby *backendServer
	path    *cuttable
}

func newRerouteRig(t *testing.T, reroute bool, standbyKnown bool) *rerouteRig {
	t.Helper()
	w := &rerouteRig{path: &cuttable{}}
	w.primary = newBackendServer(t, 2, 0, "primary", w.path.handler("primary"))
	w.standby = newBackendServer(t, 3, w.primary.port, "standby", nil)
	w.rig = newRigMon(t, w.primary.port, func(c *Config) {
		c.Services[0].Reroute = reroute
		c.Name = "px-test"
	}, nil, func(m *fakeMonitor) Monitor {
		w.rm = &rerouteMonitor{fakeMonitor: m, standbys: map[string]netip.Addr{}}
		if standbyKnown {
			w.rm.standbys["web"] = w.standby.addr
		}
		return w.rm
	}, place(w.primary.addr, 1))
	s := w.p.byName["web"]
	waitFor(t, "the first placement", func() bool { b, _ := s.current(); return b != nil })
	if reroute && standbyKnown {
		waitFor(t, "the standby's address from the monitor", func() bool {
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.standby == w.standby.addr
		})
	}
	return w
}

// endReported reports whether the last reroute report the monitor got
// says the reroute ended (reports are ordered: an active one that lost
// the race to it is not sent).
func (w *rerouteRig) endReported() bool {
	rep := w.rm.reports()
	return len(rep) > 0 && !rep[len(rep)-1].Active
}

// cutPath cuts or restores the proxy's path to the primary.
func (w *rerouteRig) cutPath(cut bool) {
	w.path.cut.Store(cut)
	w.ping.setDead(w.primary.addr, cut)
}

// load sends GETs from n clients without pause until stop is closed and
// counts the answers by body and the failures.
type load struct {
	mu     sync.Mutex
	bodies map[string]int
	errs   []string
	last   atomic.Value // the last body
	wg     sync.WaitGroup
	stop   chan struct{}
	once   sync.Once
}

func startLoad(t *testing.T, r *rig, n int) *load {
	l := &load{bodies: map[string]int{}, stop: make(chan struct{})}
	t.Cleanup(func() { l.end() })
	for range n {
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodGet, r.front.URL+"/", nil)
				req.Host = "web.test"
				resp, err := r.front.Client().Do(req)
				l.mu.Lock()
				if err != nil {
					l.errs = append(l.errs, err.Error())
				} else {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						l.errs = append(l.errs, resp.Status+" "+string(b))
					} else {
						l.bodies[string(b)]++
						l.last.Store(string(b))
					}
				}
				l.mu.Unlock()
			}
		})
	}
	return l
}

// seen is how many answers came from body.
func (l *load) seen(body string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bodies[body]
}

// end stops the clients and returns the failures.
func (l *load) end() []string {
	l.once.Do(func() { close(l.stop) })
	l.wg.Wait()
	return l.errs
}

// TestRerouteWarmServesFromStandbyAndReturns: with proxy-reroute: warm,
// when the proxy's own path to the primary is cut under load, the
// requests go to the warm standby with no client error and no suspect
// report (no incident); the monitor is told, with the standby it learned
// from the monitor; when the path comes back they return to the primary.
func TestRerouteWarmServesFromStandbyAndReturns(t *testing.T) {
	w := newRerouteRig(t, true, true)
	l := startLoad(t, w.rig, 10)
	waitFor(t, "answers from the primary", func() bool { return l.seen("primary") > 20 })

	w.cutPath(true)
	waitFor(t, "answers from the standby", func() bool { return l.seen("standby") > 50 })
	if got := value(w.p.m.rerouted.WithLabelValues("web")); got != 1 {
		t.Errorf("understudy_proxy_rerouted = %v while rerouted, want 1", got)
	}
	if status, body, _ := w.do(t, http.MethodPost, "web.test", strings.NewReader("x")); status != http.StatusOK || body != "standby" {
		t.Errorf("POST while rerouted: %d %q, want 200 standby", status, body)
	}
	waitFor(t, "the active reroute report", func() bool { return len(w.rm.reports()) >= 1 })
	rep := w.rm.reports()[0]
	if !rep.Active || rep.Proxy != "px-test" || rep.Primary != w.primary.addr.String() ||
		rep.Standby != w.standby.addr.String() || rep.Since.IsZero() || !strings.Contains(rep.Reason, "probe miss confirmed") {
		t.Errorf("reroute report %+v, want active by px-test from %s to %s since a time, with the miss", rep, w.primary.addr, w.standby.addr)
	}

	w.cutPath(false)
	waitFor(t, "answers from the primary again", func() bool { v, _ := l.last.Load().(string); return v == "primary" })
	waitFor(t, "the report that the reroute ended", func() bool { return len(w.rm.reports()) >= 2 })
	if errs := l.end(); len(errs) != 0 {
		t.Errorf("%d client errors, want 0: %q", len(errs), errs[:min(len(errs), 5)])
	}
	if rep := w.rm.reports(); len(rep) != 2 || rep[1].Active {
		t.Errorf("reroute reports %+v, want active then inactive", rep)
	}
	if got := w.mon.reported(); len(got) != 0 {
		t.Errorf("suspect reports %q, want none: a reroute opens no incident", got)
	}
	if got := value(w.p.m.rerouted.WithLabelValues("web")); got != 0 {
		t.Errorf("understudy_proxy_rerouted = %v after the return, want 0", got)
	}
	if got := value(w.p.m.reroutes.WithLabelValues("web")); got != 1 {
		t.Errorf("understudy_proxy_reroutes_total = %v, want 1", got)
	}
	if got := value(w.p.m.suspects.WithLabelValues("web", "probe")); got != 0 {
		t.Errorf("probe suspects (holds) = %v, want 0", got)
	}
}

// TestRerouteOffKeepsTheHold: a service without proxy-reroute (a cold
// one, say) keeps today's behaviour: the confirmed miss holds the
// requests and is reported to the monitor, which moves the service;
// nothing goes to the standby before that, and no reroute is reported.
func TestRerouteOffKeepsTheHold(t *testing.T) {
	w := newRerouteRig(t, false, true)
	moved := atomic.Bool{}
	w.mon.onReport = func(string, SuspectReport) {
		moved.Store(true)
		go w.mon.publish(place(w.standby.addr, 2))
	}
	w.cutPath(true)
	if status, body, _ := w.get(t, "web.test"); status != http.StatusOK || body != "standby" {
		t.Fatalf("GET with the path cut: %d %q, want 200 standby after the monitor moved it", status, body)
	}
	if !moved.Load() || len(w.mon.reported()) != 1 {
		t.Errorf("suspect reports %q, want 1 (the hold)", w.mon.reported())
	}
	if rep := w.rm.reports(); len(rep) != 0 {
		t.Errorf("reroute reports %+v for a service without proxy-reroute", rep)
	}
	if got := value(w.p.m.reroutes.WithLabelValues("web")); got != 0 {
		t.Errorf("understudy_proxy_reroutes_total = %v, want 0", got)
	}
}

// TestRerouteWithoutStandbyHolds: proxy-reroute: warm before the monitor
// named the standby's address holds and reports, as without it.
func TestRerouteWithoutStandbyHolds(t *testing.T) {
	w := newRerouteRig(t, true, false)
	w.mon.onReport = func(string, SuspectReport) { go w.mon.publish(place(w.standby.addr, 2)) }
	w.cutPath(true)
	if status, body, _ := w.get(t, "web.test"); status != http.StatusOK || body != "standby" {
		t.Fatalf("GET with the path cut: %d %q, want 200 standby after the monitor moved it", status, body)
	}
	if len(w.mon.reported()) != 1 || len(w.rm.reports()) != 0 {
		t.Errorf("suspect reports %q and reroute reports %+v, want 1 and none", w.mon.reported(), w.rm.reports())
	}
}

// TestRerouteKeepsStandbyWhenMonitorFailsOver: when the monitor fails the
// service over to the very container the requests go to, the reroute
// ends (reported) but the backend stays: requests to it are not
// withdrawn, and the primary's return does not move them back.
func TestRerouteKeepsStandbyWhenMonitorFailsOver(t *testing.T) {
	w := newRerouteRig(t, true, true)
	s := w.p.byName["web"]
	w.cutPath(true)
	if _, body, _ := w.get(t, "web.test"); body != "standby" {
		t.Fatalf("GET with the path cut: %q, want standby", body)
	}
	before, _ := s.current()
	w.mon.publish(Placement{Service: "web", Where: "standby", Host: "sb", Address: w.standby.addr, Epoch: 2})
	waitFor(t, "the reroute to end with the failover", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.reroute == nil
	})
	if after, _ := s.current(); after != before {
		t.Errorf("backend replaced by the failover to the standby it already was")
	}
	if got := value(w.p.m.placementChanges.WithLabelValues("web")); got != 1 {
		t.Errorf("placement changes = %v, want 1", got)
	}
	w.cutPath(false)
	if _, body, _ := w.get(t, "web.test"); body != "standby" {
		t.Errorf("GET after the failover and the path's return: %q, want standby (the placement decides)", body)
	}
	waitFor(t, "the report that the reroute ended", w.endReported)
}

// TestRerouteStandbyFailsFallsBackToHold: when the warm standby fails
// while it serves the rerouted requests, the proxy goes back to the
// primary and holds as without proxy-reroute: it reports the primary to
// the monitor, which decides.
func TestRerouteStandbyFailsFallsBackToHold(t *testing.T) {
	w := newRerouteRig(t, true, true)
	w.cutPath(true)
	if _, body, _ := w.get(t, "web.test"); body != "standby" {
		t.Fatalf("GET with the path cut: %q, want standby", body)
	}
	w.ping.setDead(w.standby.addr, true)
	w.standby.Close()
	w.mon.onReport = func(string, SuspectReport) { go w.cutPath(false) } // the monitor's checks pass; the path heals
	if status, body, _ := w.get(t, "web.test"); status != http.StatusOK || body != "primary" {
		t.Fatalf("GET with the standby failed too: %d %q, want 200 primary after the hold", status, body)
	}
	if rep := w.mon.reported(); len(rep) != 1 || !strings.Contains(rep[0], w.primary.addr.String()) {
		t.Errorf("suspect reports %q, want one for the primary %s", rep, w.primary.addr)
	}
	waitFor(t, "the report that the reroute ended", w.endReported)
	if got := value(w.p.m.rerouted.WithLabelValues("web")); got != 0 {
		t.Errorf("understudy_proxy_rerouted = %v, want 0", got)
	}
}

// TestRerouteHysteresis: the primary must pass rerouteBackChecks rechecks
// in a row before requests go back; a path that answers only every other
// echo keeps them on the standby.
func TestRerouteHysteresis(t *testing.T) {
	w := newRerouteRig(t, true, true)
	s := w.p.byName["web"]
	w.cutPath(true)
	if _, body, _ := w.get(t, "web.test"); body != "standby" {
		t.Fatalf("GET with the path cut: %q, want standby", body)
	}
	w.path.cut.Store(false) // TCP answers; every other echo is lost
	w.ping.setDead(w.primary.addr, false)
	for c := w.ping.count(); w.ping.count() < c+4*rerouteBackChecks; {
		n := w.ping.count()
		w.ping.dropNext(1)
		waitFor(t, "two more echoes", func() bool { return w.ping.count() >= n+2 })
	}
	s.mu.Lock()
	still := s.reroute != nil
	s.mu.Unlock()
	if !still {
		t.Fatalf("requests went back to a primary whose echoes flapped")
	}
	waitFor(t, "the return once the echoes are steady", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.reroute == nil
	})
	if _, body, _ := w.get(t, "web.test"); body != "primary" {
		t.Errorf("GET after the return: %q, want primary", body)
	}
}

// TestRerouteReportsInOrder: a report numbered before one already sent
// is dropped, so a late "active" never follows "back to the primary".
func TestRerouteReportsInOrder(t *testing.T) {
	w := newRerouteRig(t, true, true)
	s := w.p.byName["web"]
	rr := &reroute{primary: newBackend(netip.AddrPortFrom(w.primary.addr, 80)), standby: newBackend(netip.AddrPortFrom(w.standby.addr, 80))}
	active, ended := s.reports.next(), s.reports.next()
	w.p.reportReroute(s, rr, false, ended)
	w.p.reportReroute(s, rr, true, active)
	if rep := w.rm.reports(); len(rep) != 1 || rep[0].Active {
		t.Fatalf("reports %+v, want only the later one (inactive)", rep)
	}
}
