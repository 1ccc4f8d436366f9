package contentsync

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/understudy/understudy/internal/clock/clocktest"
)

// fakeStagings holds the staging copies found on the standby VMs; listed
// receives a value each time they are listed (when set).
type fakeStagings struct {
	mu      sync.Mutex
	copies  []Staging
	listErr error
	listed  chan struct{}
}

var _ Stagings = (*fakeStagings)(nil)

func (f *fakeStagings) Stagings(context.Context) ([]Staging, error) {
	f.mu.Lock()
	out, err, ch := slices.Clone(f.copies), f.listErr, f.listed
	f.mu.Unlock()
	if ch != nil {
		ch <- struct{}{}
	}
	return out, err
}

func (f *fakeStagings) RemoveStaging(_ context.Context, s Staging) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.copies = slices.DeleteFunc(f.copies, func(c Staging) bool { return c == s })
	return nil
}

func (f *fakeStagings) left() []Staging {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.copies)
}

// targets is a settable Config.Targets.
type targets struct {
	mu sync.Mutex
	ts []Target
}

func (t *targets) get() []Target { t.mu.Lock(); defer t.mu.Unlock(); return slices.Clone(t.ts) }
func (t *targets) set(ts ...Target) {
	t.mu.Lock()
	t.ts = ts
	t.mu.Unlock()
}

func sweepRunner(ts *targets, st *fakeStagings, clk *clocktest.Fake) *Runner {
	return New(Config{Targets: ts.get, Stagings: st, Gate: &fakeGate{}, Clock: clk, Logger: slog.New(slog.DiscardHandler)})
}

// TestSweepStagingRemovesOnlyWhatNoTargetKeeps: a staging copy stays while
// its service syncs whole-instance onto that standby VM; it goes once the
// sync is removed, turned to paths, moved to another standby VM or its
// service left.
func TestSweepStagingRemovesOnlyWhatNoTargetKeeps(t *testing.T) {
	ts := &targets{}
	ts.set(Target{Service: "a", WholeInstance: true, Standby: "sb1"},
		Target{Service: "b", WholeInstance: true, Standby: "sb2"},
		Target{Service: "c", Paths: []string{"/srv"}, Standby: "sb1"})
	st := &fakeStagings{copies: []Staging{{"sb1", "a"}, {"sb1", "b"}, {"sb2", "b"}, {"sb1", "c"}, {"sb1", "gone"}}}
	r := sweepRunner(ts, st, clocktest.NewFake())
	removed, err := r.SweepStaging(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := []Staging{{"sb1", "b"}, {"sb1", "c"}, {"sb1", "gone"}}; !slices.Equal(removed, want) {
		t.Errorf("removed %v, want %v", removed, want)
	}
	if want := []Staging{{"sb1", "a"}, {"sb2", "b"}}; !slices.Equal(st.left(), want) {
		t.Errorf("left %v, want %v", st.left(), want)
	}
	// No service has a status yet: the collector's one series is this.
	if got := testutil.ToFloat64(NewCollector(r, nil)); got != 3 {
		t.Errorf("understudy_sync_staging_removed_total = %v, want 3", got)
	}
}

// TestSweepStagingKeepsTheCopyOfARunningSync: a sync that began before its
// service left the inventory may still write its staging copy: the sweep
// leaves it, says why, and removes it once the sync returned.
func TestSweepStagingKeepsTheCopyOfARunningSync(t *testing.T) {
	ts := &targets{}
	st := &fakeStagings{copies: []Staging{{"sb1", "gone"}}}
	r := sweepRunner(ts, st, clocktest.NewFake())
	r.mu.Lock()
	r.running["gone"] = &run{cancel: func(error) {}, done: make(chan struct{})}
	r.mu.Unlock()
	if _, err := r.SweepStaging(t.Context()); !errors.Is(err, errSyncRunning) || len(st.left()) != 1 {
		t.Fatalf("sweep during the sync = %v, left %v; want errSyncRunning and the copy kept", err, st.left())
	}
	r.mu.Lock()
	delete(r.running, "gone")
	r.mu.Unlock()
	if removed, err := r.SweepStaging(t.Context()); err != nil || len(removed) != 1 || len(st.left()) != 0 {
		t.Errorf("sweep after the sync = %v, %v, left %v; want the copy removed", removed, err, st.left())
	}
}

// TestSweepDue: a sweep is due at the start of a term, after the
// whole-instance targets changed, and sweepRetry after a failed one; not
// at every tick.
func TestSweepDue(t *testing.T) {
	clk := clocktest.NewFake()
	ts := &targets{}
	ts.set(Target{Service: "a", WholeInstance: true, Standby: "sb1"})
	st := &fakeStagings{}
	r := sweepRunner(ts, st, clk)
	ctx := t.Context()
	step := func(what string, want bool) {
		t.Helper()
		due := r.sweepDue(ts.get(), clk.Now())
		if due != want {
			t.Fatalf("%s: due = %v, want %v", what, due, want)
		}
		if due {
			r.sweepOnce(ctx)
		}
	}
	step("first", true)
	step("nothing changed", false)
	ts.set(Target{Service: "a", Paths: []string{"/srv"}, Standby: "sb1"}) // whole-instance turned off
	step("a's whole-instance sync turned off", true)
	step("nothing changed since", false)
	ts.set() // a removed: the same staging copies are kept (none)
	step("a's paths sync removed", false)
	st.mu.Lock()
	st.listErr = errors.New("standby unreachable")
	st.mu.Unlock()
	ts.set(Target{Service: "b", WholeInstance: true, Standby: "sb2"})
	step("b's whole-instance sync added, the sweep fails", true)
	clk.Advance(sweepRetry - time.Second)
	step("before the retry", false)
	st.mu.Lock()
	st.listErr = nil
	st.mu.Unlock()
	clk.Advance(time.Second)
	step("at the retry", true)
	step("after a good retry", false)
}

// TestRunSweepsAtTheStartOfATerm: Run lists the staging copies when it
// starts, and removes the stale ones.
func TestRunSweepsAtTheStartOfATerm(t *testing.T) {
	ts := &targets{}
	st := &fakeStagings{copies: []Staging{{"sb1", "gone"}}, listed: make(chan struct{})}
	r := sweepRunner(ts, st, clocktest.NewFake())
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx, nil) }()
	<-st.listed
	cancel()
	<-done // Run waits for its sweep
	if left := st.left(); len(left) != 0 || r.StagingRemoved() != 1 {
		t.Errorf("after the term's first sweep: left %v, removed %d; want the stale copy removed", left, r.StagingRemoved())
	}
}
