package admission

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/clock/clocktest"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/standby"
)

// fakeAgent is a standby agent's capacity: its limits and what runs.
type fakeAgent struct {
	mu      sync.Mutex
	slots   int
	memory  int64
	running map[string]int64
	asked   int
}

func (a *fakeAgent) Capacity(context.Context) (standby.Capacity, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.asked++
	return standby.Capacity{SlotsTotal: a.slots, MemoryLimit: a.memory, ContainersRunning: len(a.running)}, nil
}

func (a *fakeAgent) Services(context.Context) ([]standby.ServiceStatus, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []standby.ServiceStatus
	for n, m := range a.running {
		out = append(out, standby.ServiceStatus{Spec: standby.ServiceSpec{Name: n, Memory: m}, Running: true})
	}
	return out, nil
}

func (a *fakeAgent) start(name string, mem int64) {
	a.mu.Lock()
	a.running[name] = mem
	a.mu.Unlock()
}

func (a *fakeAgent) stop(name string) {
	a.mu.Lock()
	delete(a.running, name)
	a.mu.Unlock()
}

type oneAgent struct{ a *fakeAgent }

func (o oneAgent) Agent(string) (Agent, error) { return o.a, nil }

const mib = 1 << 20

// world is a gate over one standby "sb" and its services.
type world struct {
	gate     *Gate
	agent    *fakeAgent
	mu       sync.Mutex
	waiting  []string
	rearmed  chan string
	limit    int
	services map[string]Service
}

func newWorld(t *testing.T, slots int, memory int64, services map[string]Service) *world {
	t.Helper()
	w := &world{agent: &fakeAgent{slots: slots, memory: memory, running: map[string]int64{}}, rearmed: make(chan string, 16), limit: 8, services: services}
	w.gate = New(Config{
		Services: func() map[string]Service { return w.services },
		Limit:    func() int { w.mu.Lock(); defer w.mu.Unlock(); return w.limit },
		Agents:   oneAgent{w.agent},
		Waiting:  func() []string { w.mu.Lock(); defer w.mu.Unlock(); return slices.Clone(w.waiting) },
		Rearm: func(_ context.Context, s, _ string) error {
			w.mu.Lock()
			w.waiting = slices.DeleteFunc(w.waiting, func(x string) bool { return x == s })
			w.mu.Unlock()
			w.rearmed <- s
			return nil
		},
		Every: time.Hour,
	})
	return w
}

func cold(prio int, mem int64) Service { return Service{Standby: "sb", Priority: prio, Memory: mem} }

// activate admits s and, when admitted, starts it on the agent.
func (w *world) activate(t *testing.T, s string) error {
	t.Helper()
	release, err := w.gate.Admit(t.Context(), s)
	if err != nil {
		return err
	}
	w.agent.start(s, w.services[s].Memory)
	release(true)
	return nil
}

func TestAdmitTakesAHostsServicesByPriority(t *testing.T) {
	w := newWorld(t, 2, 0, map[string]Service{
		"low": cold(50, 256*mib), "mid": cold(100, 256*mib), "top": cold(300, 256*mib), "next": cold(200, 256*mib),
	})
	w.gate.Register("low", "mid", "top", "next") // one host-down
	// The lowest arrives first at its activate step: the two of higher
	// priority that are on their way keep their places.
	err := w.activate(t, "low")
	if !errors.Is(err, ErrUnprotected) || !errors.Is(err, recover.ErrPermanent) {
		t.Fatalf("low: err = %v, want ErrUnprotected and ErrPermanent", err)
	}
	if want := `standby "sb": permanent failure: unprotected: no capacity (needs 1 slot, 0 free)`; err.Error() != want {
		t.Errorf("low: err = %q, want %q", err, want)
	}
	for _, s := range []string{"top", "next"} {
		if err := w.activate(t, s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	if err := w.activate(t, "mid"); !errors.Is(err, ErrUnprotected) {
		t.Errorf("mid after the standby filled: err = %v, want ErrUnprotected", err)
	}
	if got := len(w.agent.running); got != 2 {
		t.Errorf("%d containers run, want 2", got)
	}
}

// Two hosts fail together onto an oversubscribed standby: the first
// service to reach its activate step waits for the others' failures, so
// the one place goes to the highest priority, whichever host it is on.
func TestAdmitWaitsForTheRestOfTheFailures(t *testing.T) {
	clk := clocktest.NewFake()
	w := newWorld(t, 1, 0, map[string]Service{"a-low": cold(100, 0), "b-top": cold(300, 0)})
	w.gate.cfg.Clock = clk
	w.gate.cfg.Settle = func() time.Duration { return time.Second }
	w.gate.Register("a-low") // host-a's finding
	low := make(chan error, 1)
	go func() { low <- w.activate(t, "a-low") }()
	clk.BlockUntil(t, 1)     // a-low waits for the rest of the failures
	w.gate.Register("b-top") // host-b's finding, half a second later
	clk.Advance(500 * time.Millisecond)
	clk.BlockUntil(t, 1) // still quiet for less than a second
	clk.Advance(time.Second)
	if err := <-low; !errors.Is(err, ErrUnprotected) {
		t.Fatalf("a-low: err = %v, want refused for b-top of higher priority", err)
	}
	if err := w.activate(t, "b-top"); err != nil {
		t.Fatalf("b-top: %v", err)
	}
}

func TestAdmitRefusesByMemoryWithTheReason(t *testing.T) {
	w := newWorld(t, 0, 640*mib, map[string]Service{"a": cold(100, 512*mib), "b": cold(100, 512*mib), "warm": {Standby: "sb", Priority: 1, Memory: 128 * mib, Warm: true}})
	w.agent.start("warm", 128*mib) // a warm container keeps its place
	if err := w.activate(t, "a"); err != nil {
		t.Fatal(err)
	}
	err := w.activate(t, "b")
	u, ok := errors.AsType[*recover.UnprotectedError](err)
	if !ok || u.Reason != "no capacity (needs 512 MiB, 0 MiB free)" || !errors.Is(err, ErrUnprotected) {
		t.Errorf("b: err = %v, want an UnprotectedError with the reason", err)
	}
}

func TestAdmitPassesWarmServicesWithoutAsking(t *testing.T) {
	w := newWorld(t, 1, 0, map[string]Service{"w": {Standby: "sb", Priority: 1, Memory: 64 * mib, Warm: true}})
	w.agent.start("other", 0)
	if err := w.activate(t, "w"); err != nil {
		t.Fatal(err)
	}
	if w.agent.asked != 0 {
		t.Errorf("the agent was asked %d times for a warm service", w.agent.asked)
	}
}

func TestActivationSlotsGoByPriority(t *testing.T) {
	svcs := map[string]Service{}
	for _, s := range []string{"a", "b", "c", "d"} {
		svcs[s] = Service{Standby: "sb", Warm: true}
	}
	svcs["c"] = Service{Standby: "sb", Warm: true, Priority: 500}
	w := newWorld(t, 0, 0, svcs)
	w.limit = 1
	first, err := w.gate.Admit(t.Context(), "a")
	if err != nil {
		t.Fatal(err)
	}
	order := make(chan string, 3)
	var wg sync.WaitGroup
	for _, s := range []string{"b", "d", "c"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rel, err := w.gate.Admit(t.Context(), s)
			if err != nil {
				t.Error(err)
				return
			}
			order <- s
			rel(true)
		}()
		waitWaiters(t, w, 1+slices.Index([]string{"b", "d", "c"}, s))
	}
	first(true)
	wg.Wait()
	close(order)
	var got []string
	for s := range order {
		got = append(got, s)
	}
	if want := []string{"c", "b", "d"}; !slices.Equal(got, want) {
		t.Errorf("slots went to %v, want %v (highest priority, then arrival)", got, want)
	}
}

// waitWaiters waits until n activations wait for a slot.
func waitWaiters(t *testing.T, w *world, n int) {
	t.Helper()
	for range 10000 {
		w.gate.slots.mu.Lock()
		k := len(w.gate.slots.waiters)
		w.gate.slots.mu.Unlock()
		if k >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("never %d waiters", n)
}

func TestFreedCapacityRearmsTheWaitingByPriority(t *testing.T) {
	w := newWorld(t, 2, 0, map[string]Service{"on": cold(100, 0), "x": cold(10, 0), "y": cold(20, 0), "z": cold(30, 0)})
	for _, s := range []string{"on", "z"} {
		if err := w.activate(t, s); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []string{"x", "y"} {
		if err := w.activate(t, s); !errors.Is(err, ErrUnprotected) {
			t.Fatalf("%s: err = %v", s, err)
		}
	}
	w.waiting = []string{"x", "y"} // their incidents stopped for capacity
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); w.gate.Run(ctx) }()
	defer func() { cancel(); <-done }()

	w.agent.stop("on") // migrated to a spare
	w.gate.Freed()
	if got := <-w.rearmed; got != "y" {
		t.Fatalf("re-armed %q first, want y (the higher priority)", got)
	}
	if err := w.activate(t, "y"); err != nil {
		t.Fatalf("y after the re-arm: %v", err)
	}
	w.agent.stop("z")
	w.gate.Freed()
	if got := <-w.rearmed; got != "x" {
		t.Fatalf("re-armed %q, want x", got)
	}
}
