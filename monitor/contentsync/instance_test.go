package contentsync

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/clock/clocktest"
	"github.com/understudy/understudy/lxd"
)

// fakeInstances stands for a staging copy and a standby container: the
// content each holds, as a version number.
type fakeInstances struct {
	mu               sync.Mutex
	primary          int // the primary's content
	staging, standby int
	refreshErr       error
	onRefresh        func() // runs inside Refresh (a failover begins)
	refreshes, swaps int
	lim              *lxd.Limiter
}

func (f *fakeInstances) Refresh(_ context.Context, _ string, lim *lxd.Limiter) (Stats, error) {
	f.mu.Lock()
	f.refreshes++
	f.lim = lim
	on := f.onRefresh
	f.mu.Unlock()
	if on != nil {
		on()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refreshErr != nil {
		f.staging = -1 // half-written
		return Stats{}, f.refreshErr
	}
	f.staging = f.primary
	return Stats{Sent: 4096}, nil
}

func (f *fakeInstances) Swap(context.Context, string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.swaps++
	f.staging, f.standby = f.standby, f.staging
	return nil
}

func (f *fakeInstances) state() (standby, swaps int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.standby, f.swaps
}

var wholeTarget = Target{Service: "web", WholeInstance: true, Every: time.Minute, MaxRPO: 3 * time.Minute}

func newInstanceRunner(f *fakeInstances, g Gate, clk *clocktest.Fake, lim *lxd.Limiter) *Runner {
	return New(Config{
		Targets:   func() []Target { return []Target{wholeTarget} },
		Instances: f, Gate: g, Clock: clk, Logger: slog.New(slog.DiscardHandler),
		Limiter: func() *lxd.Limiter { return lim },
	})
}

func TestWholeInstanceSyncRefreshesThenSwaps(t *testing.T) {
	f := &fakeInstances{primary: 1}
	clk := clocktest.NewFake()
	lim := lxd.NewLimiter(1 << 20)
	r := newInstanceRunner(f, &fakeGate{}, clk, lim)
	start := clk.Now()
	if _, err := r.SyncNow(context.Background(), wholeTarget, &countSlots{}); err != nil {
		t.Fatal(err)
	}
	if standby, swaps := f.state(); standby != 1 || swaps != 1 {
		t.Errorf("standby holds %d after %d swaps, want 1 after 1", standby, swaps)
	}
	if f.lim != lim {
		t.Error("the refresh did not get the shared limiter")
	}
	st, _ := r.Status("web")
	if !st.LastGood.Equal(start) || !st.Stats.Swapped || st.Stats.Sent != 4096 || st.SentBytes != 4096 {
		t.Errorf("status = %+v, want a good swapped sync at %v with 4096 bytes sent", st, start)
	}
}

// A refresh that fails leaves the standby container as it was (only the
// staging copy is half-written) and the recovery point where it was.
func TestWholeInstanceFailedRefreshKeepsTheLastGoodCopy(t *testing.T) {
	f := &fakeInstances{primary: 1}
	clk := clocktest.NewFake()
	r := newInstanceRunner(f, &fakeGate{}, clk, lxd.NewLimiter(0))
	if _, err := r.SyncNow(context.Background(), wholeTarget, nil); err != nil {
		t.Fatal(err)
	}
	good, _ := r.Status("web")
	clk.Advance(time.Minute)
	f.primary, f.refreshErr = 2, errors.New("copy killed")
	if _, err := r.SyncNow(context.Background(), wholeTarget, nil); err == nil {
		t.Fatal("SyncNow with a failing refresh = nil")
	}
	if standby, swaps := f.state(); standby != 1 || swaps != 1 {
		t.Errorf("standby holds %d after %d swaps, want the last good 1 and no new swap", standby, swaps)
	}
	if st, _ := r.Status("web"); !st.LastGood.Equal(good.LastGood) || st.Failures != 1 {
		t.Errorf("status = %+v, want the last good sync kept and one failure", st)
	}
}

// A failover that begins during the refresh closes the gate: the swap
// never happens, and the sync fails with ErrGateClosed.
func TestWholeInstanceGateClosingDuringTheRefreshStopsTheSwap(t *testing.T) {
	f := &fakeInstances{primary: 1}
	g := &fakeGate{}
	f.onRefresh = func() { g.set("service is failing-over") }
	r := newInstanceRunner(f, g, clocktest.NewFake(), lxd.NewLimiter(0))
	if _, err := r.SyncNow(context.Background(), wholeTarget, nil); !errors.Is(err, ErrGateClosed) {
		t.Fatalf("SyncNow as a failover begins = %v, want ErrGateClosed", err)
	}
	if standby, swaps := f.state(); standby != 0 || swaps != 0 {
		t.Errorf("standby holds %d after %d swaps, want untouched", standby, swaps)
	}
}

func TestWholeInstanceWithoutInstancesFails(t *testing.T) {
	r := New(Config{Targets: func() []Target { return nil }, Gate: &fakeGate{}, Clock: clocktest.NewFake(), Logger: slog.New(slog.DiscardHandler)})
	if _, err := r.SyncNow(context.Background(), wholeTarget, nil); !errors.Is(err, errNoInstances) {
		t.Errorf("SyncNow = %v, want errNoInstances", err)
	}
}
