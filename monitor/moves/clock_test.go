package moves

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/clock/clocktest"
	"github.com/understudy/understudy/recover"
)

// holdExecutor judges the failback hold-down as the real executor does:
// recover.Due at its clock's now. web is on its standby since the clock's
// start.
type holdExecutor struct {
	clk       *clocktest.Fake
	since     time.Time
	hold      time.Duration
	mu        sync.Mutex
	failbacks int
}

func (e *holdExecutor) Records() []recover.Record {
	return []recover.Record{{Service: "web", State: recover.OnStandby, Placement: recover.Placement{Service: "web", Where: recover.AtStandby, Since: e.since}}}
}

func (e *holdExecutor) Due(facts map[string]recover.Facts) map[string]recover.Decision {
	out := map[string]recover.Decision{}
	for _, rec := range e.Records() {
		if d := recover.Due(rec, recover.MovePolicy{AutoFailback: true, HoldDown: e.hold}, facts[rec.Service], e.clk.Now()); d.Kind != "" {
			out[rec.Service] = d
		}
	}
	return out
}

func (e *holdExecutor) Failback(context.Context, string, recover.Source, string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.failbacks++
	return nil
}

// flakyPrimary is web's primary, passing its check unless down is set.
type flakyPrimary struct{ down bool }

func (s *flakyPrimary) Service(string) (Service, bool) {
	return Service{AutoFailback: true, Primary: netip.MustParseAddr("10.9.0.11"), Standby: "sb1"}, true
}

func (s *flakyPrimary) Check(context.Context, string, netip.Addr) error {
	if s.down {
		return errors.New("connection refused")
	}
	return nil
}
func (s *flakyPrimary) Migrate(context.Context, string, string) (string, error) { return "", nil }
func (s *flakyPrimary) SampleSpares(context.Context)                            {}

// TestPolicyFailbackHoldDownOnTheInjectedClock: the policy stamps
// PrimaryHealthySince with the clock the executor judges it by, so the
// failback is sent once the primary has passed its checks for the
// hold-down on that clock, not before; a failed check restarts the
// hold-down.
func TestPolicyFailbackHoldDownOnTheInjectedClock(t *testing.T) {
	const hold = 10 * time.Minute
	clk := clocktest.NewFake()
	exec := &holdExecutor{clk: clk, since: clk.Now(), hold: hold}
	primary := &flakyPrimary{}
	p := New(Config{Executor: exec, Services: primary, Overload: &noOverload{}, Clock: clk})

	p.tick(t.Context())
	if got := p.healthy["web"]; !got.Equal(clk.Now()) {
		t.Fatalf("PrimaryHealthySince = %v, want the fake clock's %v", got, clk.Now())
	}
	clk.Advance(hold - time.Second)
	p.tick(t.Context())
	if exec.failbacks != 0 {
		t.Fatalf("failback sent %s into a %s hold-down", hold-time.Second, hold)
	}
	primary.down = true
	p.tick(t.Context()) // the check fails: the hold-down starts again
	primary.down = false
	clk.Advance(time.Second)
	p.tick(t.Context())
	if exec.failbacks != 0 {
		t.Fatal("failback sent right after the primary failed a check")
	}
	clk.Advance(hold)
	p.tick(t.Context())
	if exec.failbacks != 1 {
		t.Fatalf("failbacks = %d after a full hold-down of passing checks, want 1", exec.failbacks)
	}
}

// TestPolicyMigrateRetryOnTheInjectedClock: an automatic migration is not
// sent again before autoMigrateRetry has passed on the policy's clock, and
// is once it has.
func TestPolicyMigrateRetryOnTheInjectedClock(t *testing.T) {
	clk := clocktest.NewFake()
	svcs := &fakeServices{}
	p := New(Config{Executor: &fakeExecutor{}, Services: svcs, Overload: &noOverload{}, Clock: clk})
	p.tick(t.Context())
	clk.Advance(autoMigrateRetry - time.Second)
	p.tick(t.Context())
	if len(svcs.migrated) != 1 {
		t.Fatalf("migrated %v before the retry pause passed, want [db]", svcs.migrated)
	}
	clk.Advance(time.Second)
	p.tick(t.Context())
	if len(svcs.migrated) != 2 {
		t.Fatalf("migrated %v once the retry pause passed, want db twice", svcs.migrated)
	}
}

// TestPolicyRunLooksEveryIntervalOnItsClock: Run looks at once, then
// again each time the interval passes on its clock.
func TestPolicyRunLooksEveryIntervalOnItsClock(t *testing.T) {
	clk := clocktest.NewFake()
	over := &countingOverload{looks: make(chan struct{}, 4)}
	p := New(Config{Executor: &fakeExecutor{}, Services: &fakeServices{}, Overload: over, Interval: time.Minute, Clock: clk})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	<-over.looks
	clk.BlockUntil(t, 1)
	clk.Advance(time.Minute)
	<-over.looks
	cancel()
	<-done
}

// countingOverload signals every Sample (one per look).
type countingOverload struct {
	noOverload
	looks chan struct{}
}

func (o *countingOverload) Sample(context.Context, time.Time) { o.looks <- struct{}{} }
