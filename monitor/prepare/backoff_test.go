package prepare

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/clock/clocktest"
	"github.com/understudy/understudy/standby"
)

// asked counts the prepare requests the agent got for one service.
func (a *fakeAgent) asked(name string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, s := range a.prepared {
		if s.Name == name {
			n++
		}
	}
	return n
}

// TestPrepareBackoffOnTheInjectedClock: a failing service is asked again
// only once its backoff passed on the preparer's clock, and the backoff
// doubles (2s, then 4s) with each failure.
func TestPrepareBackoffOnTheInjectedClock(t *testing.T) {
	clk := clocktest.NewFake()
	agent := &fakeAgent{fail: map[string]bool{"db": true}}
	p := New(Config{Services: fakeServices{}, Agents: agent, Epoch: 7, Retry: 2 * time.Second, Clock: clk})
	start := clk.Now()
	if next := p.pass(t.Context()); !next.Equal(start.Add(2 * time.Second)) {
		t.Fatalf("next retry %v, want %v (the clock's now + 2s)", next, start.Add(2*time.Second))
	}
	for _, step := range []struct {
		advance time.Duration
		want    int
	}{
		{time.Second, 1},     // 1s of a 2s backoff
		{time.Second, 2},     // 2s: due, fails again, backoff 4s
		{3 * time.Second, 2}, // 3s of 4s
		{time.Second, 3},     // 4s: due
	} {
		clk.Advance(step.advance)
		p.pass(t.Context())
		if got := agent.asked("db"); got != step.want {
			t.Fatalf("at %v: db asked %d times, want %d", clk.Now().Sub(start), got, step.want)
		}
	}
	if st := p.Get("db"); !st.At.Equal(clk.Now()) {
		t.Errorf("db's last attempt at %v, want the clock's %v", st.At, clk.Now())
	}
}

// TestPrepareRunWaitsForTheRetryOnItsClock: Run sleeps on its clock until
// the next retry is due, then asks again.
func TestPrepareRunWaitsForTheRetryOnItsClock(t *testing.T) {
	clk := clocktest.NewFake()
	agent := &fakeAgent{fail: map[string]bool{"db": true}}
	p := New(Config{Services: fakeServices{}, Agents: agent, Epoch: 7, Retry: 2 * time.Second, Clock: clk})
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(t.Context())
	go func() { defer close(done); p.Run(ctx) }()
	clk.BlockUntil(t, 1) // the first pass ran and Run waits for db's retry
	if got := agent.asked("db"); got != 1 {
		t.Fatalf("db asked %d times by the first pass, want 1", got)
	}
	clk.Advance(2 * time.Second)
	clk.BlockUntil(t, 1) // the second pass ran
	if got := agent.asked("db"); got != 2 {
		t.Errorf("db asked %d times after its retry was due, want 2", got)
	}
	cancel()
	<-done
}

// TestPrepareRetriesASwapAtTheFirstPause: an agent that says the container
// is being swapped by its sync (standby.ErrSwapping) is asked again after
// the first pause; one that says so again backs off as for any failure (a
// swap that never finished leaves the container aside until an operator
// renames it back).
func TestPrepareRetriesASwapAtTheFirstPause(t *testing.T) {
	clk := clocktest.NewFake()
	agent := &fakeAgent{fail: map[string]bool{"db": true}, err: fmt.Errorf("prepare %q: %w", "db", standby.ErrSwapping)}
	p := New(Config{Services: fakeServices{}, Agents: agent, Epoch: 7, Retry: 2 * time.Second, Clock: clk})
	p.pass(t.Context())
	clk.Advance(2 * time.Second)
	p.pass(t.Context())
	if got := agent.asked("db"); got != 2 {
		t.Fatalf("after the first pause: db asked %d times, want 2 (a swap is a moment)", got)
	}
	// Still aside: not a moment any more (a swap that never finished), so
	// the pauses grow as for any failure: 4 s, then 8 s.
	clk.Advance(2 * time.Second)
	p.pass(t.Context())
	if got := agent.asked("db"); got != 2 {
		t.Fatalf("2 s after a second swapping answer: db asked %d times, want still 2 (backing off)", got)
	}
	clk.Advance(2 * time.Second)
	p.pass(t.Context())
	if got := agent.asked("db"); got != 3 {
		t.Fatalf("4 s after the second swapping answer: db asked %d times, want 3", got)
	}
	agent.mu.Lock()
	agent.fail = nil
	agent.mu.Unlock()
	clk.Advance(8 * time.Second)
	p.pass(t.Context())
	if st := p.Get("db"); !st.OK {
		t.Errorf("db after the swap: %+v, want prepared", st)
	}
}
