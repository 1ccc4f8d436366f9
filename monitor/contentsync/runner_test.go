package contentsync

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/understudy/understudy/internal/clock/clocktest"
)

// fakeOpener hands out the world's two directories as sessions.
type fakeOpener struct{ w *world }

type localSession struct{ localFS }

func (localSession) Close() error { return nil }

func (o fakeOpener) Primary(context.Context, string) (Session, error) {
	return localSession{o.w.src}, nil
}
func (o fakeOpener) Standby(context.Context, string) (Session, error) {
	return localSession{o.w.dst}, nil
}

// fakeGate refuses while why is set.
type fakeGate struct {
	mu  sync.Mutex
	why string
}

func (g *fakeGate) MaySync(string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.why != "" {
		return errors.New(g.why)
	}
	return nil
}

func (g *fakeGate) set(why string) {
	g.mu.Lock()
	g.why = why
	g.mu.Unlock()
}

// countSlots counts the slots taken and given back.
type countSlots struct {
	mu           sync.Mutex
	taken, freed int
}

func (s *countSlots) Slot(context.Context) (func(), error) {
	s.mu.Lock()
	s.taken++
	s.mu.Unlock()
	return func() { s.mu.Lock(); s.freed++; s.mu.Unlock() }, nil
}

var webTarget = Target{Service: "web", Paths: []string{"/var/www"}, Every: time.Minute, MaxRPO: 3 * time.Minute}

func newRunner(w *world, g Gate, clk *clocktest.Fake) *Runner {
	return New(Config{
		Targets: func() []Target { return []Target{webTarget} },
		Open:    fakeOpener{w}, Gate: g, Clock: clk, Logger: slog.New(slog.DiscardHandler),
	})
}

func TestSyncNowRecordsTheRecoveryPoint(t *testing.T) {
	w := newWorld(t)
	w.write(w.src, "/var/www/index.html", "v1", t0)
	clk := clocktest.NewFake()
	r := newRunner(w, &fakeGate{}, clk)
	slots := &countSlots{}
	start := clk.Now()
	if _, err := r.SyncNow(context.Background(), webTarget, slots); err != nil {
		t.Fatal(err)
	}
	if got := w.read(w.dst, "/var/www/index.html"); got != "v1" {
		t.Errorf("standby = %q, want v1", got)
	}
	if slots.taken != 1 || slots.freed != 1 {
		t.Errorf("slots taken %d, given back %d; want 1 and 1", slots.taken, slots.freed)
	}
	st, ok := r.Status("web")
	if !ok || !st.LastGood.Equal(start) || st.Runs != 1 || st.Stats.Files != 1 || st.LastError != "" || st.Running {
		t.Fatalf("status = %+v, want one good sync at %v", st, start)
	}
	clk.Advance(4*time.Minute + 12*time.Second)
	c := r.CopyAge("web", clk.Now())
	if c == nil || c.Age != 4*time.Minute+12*time.Second || c.String() != "served from a copy 4m12s old (max-rpo 3m0s exceeded)" {
		t.Errorf("CopyAge = %+v (%q), want 4m12s old, max-rpo exceeded", c, c.String())
	}
	if !st.Exceeded(clk.Now()) || st.Exceeded(start.Add(time.Minute)) {
		t.Errorf("Exceeded is wrong around max-rpo 3m")
	}
	if r.CopyAge("api", clk.Now()) != nil {
		t.Error("CopyAge of a service without sync is not nil")
	}
}

// A gate that is closed stops the sync before it reads anything; one that
// closes while the sync copies (a failover began) stops it, and the
// standby keeps the last good copy and its time.
func TestGateStopsTheSync(t *testing.T) {
	w := newWorld(t)
	w.write(w.src, "/var/www/index.html", "v1", t0)
	clk := clocktest.NewFake()
	g := &fakeGate{}
	r := newRunner(w, g, clk)
	if _, err := r.SyncNow(context.Background(), webTarget, nil); err != nil {
		t.Fatal(err)
	}
	good, _ := r.Status("web")

	g.set("service is failing-over")
	clk.Advance(time.Minute)
	w.write(w.src, "/var/www/index.html", "v2 changed", t0.Add(time.Minute))
	if _, err := r.SyncNow(context.Background(), webTarget, nil); !errors.Is(err, ErrGateClosed) {
		t.Fatalf("SyncNow with the gate closed = %v, want ErrGateClosed", err)
	}
	if st, _ := r.Status("web"); st.Blocked == "" || st.Runs != 1 {
		t.Errorf("status = %+v, want blocked and no new run", st)
	}

	// The gate closes once the copy has begun reading the primary.
	g.set("")
	r.cfg.Open = closingOpener{fakeOpener{w}, g}
	if _, err := r.SyncNow(context.Background(), webTarget, nil); !errors.Is(err, ErrGateClosed) {
		t.Fatalf("SyncNow as a failover begins = %v, want ErrGateClosed", err)
	}
	if got := w.read(w.dst, "/var/www/index.html"); got != "v1" {
		t.Errorf("standby = %q, want the last good copy v1", got)
	}
	st, _ := r.Status("web")
	if !st.LastGood.Equal(good.LastGood) || st.LastError == "" || st.Failures != 1 {
		t.Errorf("status = %+v, want the last good sync kept and the failure recorded", st)
	}
}

// closingOpener closes the gate when the primary's first file is opened.
type closingOpener struct {
	fakeOpener
	g *fakeGate
}

func (o closingOpener) Primary(ctx context.Context, s string) (Session, error) {
	return closingSession{localSession{o.w.src}, o.g}, nil
}

type closingSession struct {
	localSession
	g *fakeGate
}

func (s closingSession) Open(p string) (io.ReadCloser, error) {
	s.g.set("service is failing-over")
	return s.localSession.Open(p)
}

// Run syncs each service once per every, and stops with its context.
func TestRunSyncsEveryInterval(t *testing.T) {
	r, clk := runWeb(t, 10*time.Second)
	runs := func() int64 { return webRuns(r) }
	waitRuns := func(n int64) { t.Helper(); waitWebRuns(t, r, n) }
	waitRuns(1)
	for range 5 { // 50 s: not due yet
		clk.BlockUntil(t, 1)
		clk.Advance(10 * time.Second)
	}
	clk.BlockUntil(t, 1)
	if got := runs(); got != 1 {
		t.Errorf("after 50 s: %d runs, want 1", got)
	}
	clk.Advance(10 * time.Second)
	waitRuns(2)
}

func TestCollectorExportsTheRPO(t *testing.T) {
	w := newWorld(t)
	w.write(w.src, "/var/www/index.html", "v1", t0)
	clk := clocktest.NewFake()
	r := newRunner(w, &fakeGate{}, clk)
	if _, err := r.SyncNow(context.Background(), webTarget, nil); err != nil {
		t.Fatal(err)
	}
	clk.Advance(4 * time.Minute)
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(r, nil))
	want := `
# HELP understudy_sync_age_seconds Age of the standby's copy of the service's content: now minus the start of the last good sync (the service's current RPO).
# TYPE understudy_sync_age_seconds gauge
understudy_sync_age_seconds{service="web"} 240
# HELP understudy_sync_max_rpo_seconds The service's sync.max-rpo.
# TYPE understudy_sync_max_rpo_seconds gauge
understudy_sync_max_rpo_seconds{service="web"} 180
# HELP understudy_sync_rpo_exceeded 1 when the copy is older than max-rpo (or no sync succeeded within max-rpo of this monitor starting to sync it), else 0.
# TYPE understudy_sync_rpo_exceeded gauge
understudy_sync_rpo_exceeded{service="web"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "understudy_sync_age_seconds", "understudy_sync_max_rpo_seconds", "understudy_sync_rpo_exceeded"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(NewCollector(r, nil)); n != 10 { // 9 of web, understudy_sync_staging_removed_total
		t.Errorf("%d series, want 10", n)
	}
	if n := testutil.CollectAndCount(NewCollector(r, func() bool { return false })); n != 0 {
		t.Errorf("%d series while not leading, want none", n)
	}
}

// cancelOpener cancels the sync through Runner.Cancel when the primary's
// first file is opened (the daemon does so when an incident opens).
type cancelOpener struct {
	fakeOpener
	r **Runner
}

func (o cancelOpener) Primary(context.Context, string) (Session, error) {
	return cancelSession{localSession{o.w.src}, o.r}, nil
}

type cancelSession struct {
	localSession
	r **Runner
}

func (s cancelSession) Open(p string) (io.ReadCloser, error) {
	(*s.r).Cancel("web", "incident web-1 opened")
	return s.localSession.Open(p)
}

func TestCancelStopsTheRunningSync(t *testing.T) {
	w := newWorld(t)
	w.write(w.src, "/var/www/index.html", "v1", t0)
	w.write(w.dst, "/var/www/index.html", "old", t0.Add(-time.Hour))
	var r *Runner
	r = newRunner(w, &fakeGate{}, clocktest.NewFake())
	r.cfg.Open = cancelOpener{fakeOpener{w}, &r}
	_, err := r.SyncNow(context.Background(), webTarget, nil)
	if !errors.Is(err, ErrGateClosed) || !strings.Contains(err.Error(), "incident web-1 opened") {
		t.Fatalf("SyncNow cancelled = %v, want ErrGateClosed with the reason", err)
	}
	if got := w.read(w.dst, "/var/www/index.html"); got != "old" {
		t.Errorf("standby = %q, want the old copy kept", got)
	}
	r.Cancel("web", "nothing runs") // no sync: nothing happens
}

// A sync starts when it falls due, not at the next look after: with a
// look every 7 s and every 1 min, the second run comes at 60 s, not 63.
func TestRunStartsASyncWhenItFallsDue(t *testing.T) {
	r, clk := runWeb(t, 7*time.Second)
	runs := func() int64 { return webRuns(r) }
	waitRuns := func(n int64) { t.Helper(); waitWebRuns(t, r, n) }
	waitRuns(1)
	start := clk.Now()
	for range 8 { // 56 s
		clk.BlockUntil(t, 1)
		clk.Advance(7 * time.Second)
	}
	clk.BlockUntil(t, 1)
	if got := runs(); got != 1 {
		t.Fatalf("after 56 s: %d runs, want 1", got)
	}
	clk.Advance(start.Add(time.Minute).Sub(clk.Now())) // exactly due
	waitRuns(2)
}

// webRuns is how many syncs of "web" r has run.
func webRuns(r *Runner) int64 {
	st, _ := r.Status("web")
	return st.Runs
}

// waitWebRuns waits until r has run n syncs of "web" (the runner runs
// them in goroutines of its own).
func waitWebRuns(t *testing.T, r *Runner, n int64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); webRuns(r) < n; {
		if time.Now().After(deadline) {
			t.Fatalf("runs = %d, want %d", webRuns(r), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// runWeb runs a runner of webTarget that looks every tick, on a fake
// clock, until the test ends.
func runWeb(t *testing.T, tick time.Duration) (*Runner, *clocktest.Fake) {
	t.Helper()
	w := newWorld(t)
	w.write(w.src, "/var/www/index.html", "v1", t0)
	clk := clocktest.NewFake()
	r := newRunner(w, &fakeGate{}, clk)
	r.cfg.Tick = tick
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx, nil) }()
	t.Cleanup(func() { cancel(); <-done })
	return r, clk
}
