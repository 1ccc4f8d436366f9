package standby

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/standby/criuprobe"
)

// testEnv is an agent over a fake runtime whose containers "serve" on a
// loopback listener.
type testEnv struct {
	agent *Agent
	rt    *fakeRuntime
	port  int
	dir   string
}

func testConfig(dir string) Config {
	cfg := DefaultConfig()
	cfg.StateDir = dir
	cfg.ActivateTimeout = Duration(5 * time.Second)
	cfg.CRIU.Disable = true
	return cfg
}

func newTestEnv(t *testing.T, mutate func(*Config)) *testEnv {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	env := &testEnv{rt: newFakeRuntime(), port: ln.Addr().(*net.TCPAddr).Port, dir: t.TempDir()}
	cfg := testConfig(env.dir)
	if mutate != nil {
		mutate(&cfg)
	}
	env.agent = env.newAgent(t, cfg)
	return env
}

func (e *testEnv) newAgent(t *testing.T, cfg Config) *Agent {
	t.Helper()
	a, err := NewAgent(t.Context(), cfg, e.rt, AgentOptions{CRIU: criuprobe.Status{Reason: "test: no criu"}, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	a.Reconcile(t.Context())
	return a
}

func (e *testEnv) spec(name string, mode Mode) ServiceSpec {
	return ServiceSpec{Name: name, Image: "img", Mode: mode, Port: e.port, Epoch: 1}
}

func (e *testEnv) prepare(t *testing.T, s ServiceSpec) {
	t.Helper()
	if _, err := e.agent.Prepare(t.Context(), s); err != nil {
		t.Fatalf("prepare %s: %v", s.Name, err)
	}
}

func TestPrepareModes(t *testing.T) {
	env := newTestEnv(t, nil)
	for _, tc := range []struct {
		mode        Mode
		wantRunning bool
	}{{ModeWarm, true}, {ModeCold, false}, {ModeRestore, false}} {
		name := "svc-" + string(tc.mode)
		env.prepare(t, env.spec(name, tc.mode))
		exists, running, _ := env.rt.status(name)
		if !exists || running != tc.wantRunning {
			t.Errorf("%s: exists=%v running=%v, want exists and running=%v", tc.mode, exists, running, tc.wantRunning)
		}
	}
	svcs, err := env.agent.Services(t.Context())
	if err != nil || len(svcs) != 3 {
		t.Fatalf("Services = %v, %v; want 3", svcs, err)
	}
	// Changing a warm service to cold stops it.
	env.prepare(t, env.spec("svc-warm", ModeCold))
	if _, running, _ := env.rt.status("svc-warm"); running {
		t.Error("warm service re-prepared as cold still runs")
	}
}

func TestActivateColdWarmRestore(t *testing.T) {
	env := newTestEnv(t, nil)
	tests := []struct {
		mode         Mode
		wantFirst    string
		wantFallback bool
		wantStarts   int
	}{
		{ModeCold, "start", false, 1},
		{ModeWarm, "running", false, 1}, // started once by prepare, not again
		{ModeRestore, "start", true, 1},
	}
	for _, tc := range tests {
		name := "act-" + string(tc.mode)
		env.prepare(t, env.spec(name, tc.mode))
		act, err := env.agent.Activate(t.Context(), 1, name)
		if err != nil {
			t.Fatalf("%s: activate: %v", tc.mode, err)
		}
		if act.Address != "127.0.0.1" || act.Mode != tc.mode {
			t.Errorf("%s: address %q mode %q", tc.mode, act.Address, act.Mode)
		}
		if len(act.Phases) != 3 || act.Phases[0].Name != tc.wantFirst || act.Phases[1].Name != "address" || act.Phases[2].Name != "port" {
			t.Errorf("%s: phases %+v, want %s, address, port", tc.mode, act.Phases, tc.wantFirst)
		}
		if (act.FallbackReason != "") != tc.wantFallback || act.Restored {
			t.Errorf("%s: fallback %q restored %v", tc.mode, act.FallbackReason, act.Restored)
		}
		if tc.wantFallback && !strings.Contains(act.FallbackReason, "unavailable: test: no criu") {
			t.Errorf("%s: fallback reason %q does not carry the CRIU reason", tc.mode, act.FallbackReason)
		}
		if _, running, starts := env.rt.status(name); !running || starts != tc.wantStarts {
			t.Errorf("%s: running=%v starts=%d, want running, %d starts", tc.mode, running, starts, tc.wantStarts)
		}
		// Deactivate returns to the prepared state.
		if _, err := env.agent.Deactivate(t.Context(), 1, name); err != nil {
			t.Fatalf("%s: deactivate: %v", tc.mode, err)
		}
		if _, running, _ := env.rt.status(name); running != (tc.mode == ModeWarm) {
			t.Errorf("%s: after deactivate running=%v", tc.mode, running)
		}
	}
}

// joinedCtx is a caller's context that reports when the caller first waits
// on it. Activate first asks for Done in the select that waits for the
// shared flight, after it joined it: so every caller whose Done was asked
// for has joined.
type joinedCtx struct {
	context.Context
	once   sync.Once
	joined chan<- struct{}
}

func (c *joinedCtx) Done() <-chan struct{} {
	c.once.Do(func() { c.joined <- struct{}{} })
	return c.Context.Done()
}

// TestActivateCoalesces: concurrent activations of one service share one
// start and its result. The start is held until every caller has joined the
// flight (an event each caller reports, not a time window).
func TestActivateCoalesces(t *testing.T) {
	env := newTestEnv(t, nil)
	env.prepare(t, env.spec("coal", ModeCold))
	gate := make(chan struct{})
	env.rt.mu.Lock()
	env.rt.startGate = gate // keep the start in flight while callers pile up
	env.rt.mu.Unlock()
	const n = 20
	results := make([]Activation, n)
	errs := make([]error, n)
	joined := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ctx := &joinedCtx{Context: t.Context(), joined: joined}
			results[i], errs[i] = env.agent.Activate(ctx, 1, "coal")
		})
	}
	for range n {
		<-joined
	}
	close(gate)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if results[i].TookMS != results[0].TookMS || results[i].Phases[0].Name != "start" {
			t.Errorf("caller %d got a different activation: %+v vs %+v", i, results[i], results[0])
		}
	}
	if _, _, starts := env.rt.status("coal"); starts != 1 {
		t.Errorf("%d concurrent activations caused %d starts, want 1", n, starts)
	}
}

// TestParallelLimit: activations of different services run in parallel, up
// to max-parallel. The starts are held until two are in flight at once (an
// event the runtime reports), so a peak of 1 (parallel activation broken)
// never gets there and fails; and the runtime never sees more than two.
func TestParallelLimit(t *testing.T) {
	const limit = 2
	env := newTestEnv(t, func(c *Config) { c.MaxParallel = limit })
	names := []string{"p-a", "p-b", "p-c", "p-d"}
	for _, n := range names {
		env.prepare(t, env.spec(n, ModeCold))
	}
	gate := make(chan struct{})
	entered := make(chan string, len(names))
	env.rt.mu.Lock()
	env.rt.startGate, env.rt.entered = gate, entered
	env.rt.mu.Unlock()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second) // a broken limit deadlocks: end it
	defer cancel()
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Go(func() {
			if _, err := env.agent.Activate(ctx, 1, n); err != nil {
				t.Errorf("activate %s: %v", n, err)
			}
		})
	}
	var first []string
	for len(first) < limit {
		select {
		case n := <-entered:
			first = append(first, n)
		case <-ctx.Done():
			t.Fatalf("only %v started while %d activations waited: they do not run in parallel up to %d", first, len(names), limit)
		}
	}
	if got := len(env.agent.sem); got != limit {
		t.Errorf("%d activation slots taken with %d starts in flight, want %d", got, limit, limit)
	}
	close(gate)
	wg.Wait()
	if peak := env.rt.peakStart.Load(); peak != limit {
		t.Errorf("peak parallel starts = %d, want %d (max-parallel)", peak, limit)
	}
	for _, n := range names {
		if _, running, _ := env.rt.status(n); !running {
			t.Errorf("%s not running", n)
		}
	}
}

func TestStaleEpoch(t *testing.T) {
	env := newTestEnv(t, nil)
	s := env.spec("ep", ModeCold)
	s.Epoch = 5
	env.prepare(t, s)
	if _, err := env.agent.Activate(t.Context(), 4, "ep"); !errors.Is(err, ErrStaleEpoch) {
		t.Fatalf("activate with lower epoch: err = %v, want ErrStaleEpoch", err)
	}
	if _, _, starts := env.rt.status("ep"); starts != 0 {
		t.Errorf("stale activation started the container (%d starts)", starts)
	}
	if _, err := env.agent.Activate(t.Context(), 5, "ep"); err != nil {
		t.Fatalf("activate with equal epoch: %v", err)
	}
	if err := env.agent.Delete(t.Context(), 3, "ep"); !errors.Is(err, ErrStaleEpoch) {
		t.Errorf("delete with lower epoch: err = %v", err)
	}
	if _, err := env.agent.Deactivate(t.Context(), 4, "ep"); !errors.Is(err, ErrStaleEpoch) {
		t.Errorf("deactivate with lower epoch: err = %v", err)
	}
	s.Epoch = 2
	if _, err := env.agent.Prepare(t.Context(), s); !errors.Is(err, ErrStaleEpoch) {
		t.Errorf("prepare with lower epoch: err = %v", err)
	}
	if _, err := env.agent.Activate(t.Context(), 7, "ep"); err != nil {
		t.Fatalf("activate with higher epoch: %v", err)
	}
	// The highest epoch survives a restart.
	restarted := env.newAgent(t, testConfig(env.dir))
	if got := restarted.Health().Epoch; got != 7 {
		t.Errorf("epoch after restart = %d, want 7", got)
	}
	if _, err := restarted.Deactivate(t.Context(), 6, "ep"); !errors.Is(err, ErrStaleEpoch) {
		t.Errorf("after restart, epoch 6: err = %v, want ErrStaleEpoch", err)
	}
}

func TestCapacityRefusal(t *testing.T) {
	tests := []struct {
		desc     string
		capacity CapacityConfig
		memory   int64
	}{
		{"slots", CapacityConfig{Containers: 1, Memory: 1 << 30}, 0},
		{"memory", CapacityConfig{Containers: 10, Memory: 100 << 20}, 64 << 20},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			env := newTestEnv(t, func(c *Config) { c.Capacity = tc.capacity })
			warm := env.spec("cap-warm", ModeWarm)
			warm.Memory = tc.memory
			env.prepare(t, warm)
			cold := env.spec("cap-cold", ModeCold)
			cold.Memory = tc.memory
			env.prepare(t, cold)
			_, err := env.agent.Activate(t.Context(), 1, "cap-cold")
			if !errors.Is(err, ErrNoCapacity) {
				t.Fatalf("activate over capacity: err = %v, want ErrNoCapacity", err)
			}
			if _, running, starts := env.rt.status("cap-cold"); running || starts != 0 {
				t.Errorf("refused activation left running=%v starts=%d", running, starts)
			}
			c, err := env.agent.Capacity()
			if err != nil {
				t.Fatal(err)
			}
			if c.ContainersRunning != 1 || c.SlotsFree != tc.capacity.Containers-1 {
				t.Errorf("capacity after refusal: %+v", c)
			}
			// A second warm service is refused before anything is created.
			w2 := env.spec("cap-warm2", ModeWarm)
			w2.Memory = tc.memory
			if _, err := env.agent.Prepare(t.Context(), w2); !errors.Is(err, ErrNoCapacity) {
				t.Errorf("prepare warm over capacity: err = %v", err)
			}
			if exists, _, _ := env.rt.status("cap-warm2"); exists {
				t.Error("refused warm prepare left a container")
			}
			// Freeing the warm one makes room.
			if err := env.agent.Delete(t.Context(), 1, "cap-warm"); err != nil {
				t.Fatal(err)
			}
			if _, err := env.agent.Activate(t.Context(), 1, "cap-cold"); err != nil {
				t.Errorf("activate after freeing: %v", err)
			}
		})
	}
}

func TestFailedActivationLeavesNothingRunning(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.ActivateTimeout = Duration(200 * time.Millisecond) })
	s := env.spec("noport", ModeCold)
	s.Port = closedPort(t)
	env.prepare(t, s)
	if _, err := env.agent.Activate(t.Context(), 1, "noport"); err == nil {
		t.Fatal("activation of a service whose port never opens succeeded")
	}
	if _, running, _ := env.rt.status("noport"); running {
		t.Error("failed activation left the container running")
	}
	if c, _ := env.agent.Capacity(); c.ContainersRunning != 0 {
		t.Errorf("failed activation kept its slot: %+v", c)
	}
}

func TestNotFoundAndInvalid(t *testing.T) {
	env := newTestEnv(t, nil)
	if _, err := env.agent.Activate(t.Context(), 1, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("activate unknown: %v", err)
	}
	bad := []ServiceSpec{
		{Name: "Bad_Name", Image: "i", Mode: ModeCold, Port: 80},
		{Name: "x", Mode: ModeCold, Port: 80},
		{Name: "x", Image: "i", Mode: "hot", Port: 80},
		{Name: "x", Image: "i", Mode: ModeCold, Port: 0},
	}
	for _, s := range bad {
		if _, err := env.agent.Prepare(t.Context(), s); !errors.Is(err, ErrInvalid) {
			t.Errorf("prepare %+v: err = %v, want ErrInvalid", s, err)
		}
	}
}

func TestAddressPoolStableAcrossRestart(t *testing.T) {
	net := &NetworkConfig{Gateway: "10.9.0.1", PrefixLen: 24, Pool: "10.9.0.10-10.9.0.11"}
	env := newTestEnv(t, func(c *Config) { c.Network = net })
	if errs := net.validate(); len(errs) > 0 {
		t.Fatal(errs)
	}
	env.prepare(t, env.spec("addr-a", ModeCold))
	env.prepare(t, env.spec("addr-b", ModeCold))
	if got := env.rt.config("addr-a")["environment.IPADDR"]; got != "10.9.0.10/24" {
		t.Errorf("addr-a IPADDR = %q", got)
	}
	if got := env.rt.config("addr-b"); got["environment.IPADDR"] != "10.9.0.11/24" || got["environment.GATEWAY"] != "10.9.0.1" {
		t.Errorf("addr-b config = %v", got)
	}
	if _, err := env.agent.Prepare(t.Context(), env.spec("addr-c", ModeCold)); !errors.Is(err, ErrNoCapacity) {
		t.Errorf("prepare with exhausted pool: err = %v", err)
	}
	cfg := testConfig(env.dir)
	cfg.Network = net
	restarted := env.newAgent(t, cfg)
	svcs, err := restarted.Services(t.Context())
	if err != nil || len(svcs) != 2 || svcs[0].Address != "10.9.0.10" || svcs[1].Address != "10.9.0.11" {
		t.Errorf("after restart: %+v, %v", svcs, err)
	}
	if err := restarted.Delete(t.Context(), 1, "addr-a"); err != nil {
		t.Fatal(err)
	}
	env.agent = restarted
	env.prepare(t, env.spec("addr-c", ModeCold))
	if got := env.rt.config("addr-c")["environment.IPADDR"]; got != "10.9.0.10/24" {
		t.Errorf("freed address not reused: %q", got)
	}
}

func closedPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return p
}

func TestActivateCallerCancelDoesNotCancelOthers(t *testing.T) {
	env := newTestEnv(t, nil)
	env.rt.startDelay = 100 * time.Millisecond
	env.prepare(t, env.spec("cc", ModeCold))
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { _, err := env.agent.Activate(ctx, 1, "cc"); errc <- err }()
	time.Sleep(10 * time.Millisecond)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled caller: err = %v", err)
	}
	if _, err := env.agent.Activate(t.Context(), 1, "cc"); err != nil {
		t.Fatalf("second caller: %v", err)
	}
	if _, _, starts := env.rt.status("cc"); starts != 1 {
		t.Errorf("starts = %d, want 1", starts)
	}
}

func TestPrepareKeepsActiveServiceServing(t *testing.T) {
	env := newTestEnv(t, nil)
	env.prepare(t, env.spec("keep", ModeCold))
	if _, err := env.agent.Activate(t.Context(), 1, "keep"); err != nil {
		t.Fatal(err)
	}
	s := env.spec("keep", ModeCold)
	s.Config = map[string]string{"user.note": "changed"}
	env.prepare(t, s) // the monitor re-applies specs while the service is active
	if _, running, _ := env.rt.status("keep"); !running {
		t.Fatal("re-preparing an active service stopped it")
	}
	if got := env.rt.config("keep")["user.note"]; got != "changed" {
		t.Errorf("config of the active service not updated: user.note = %q", got)
	}
	if _, err := env.agent.Deactivate(t.Context(), 1, "keep"); err != nil {
		t.Fatal(err)
	}
	if _, running, _ := env.rt.status("keep"); running {
		t.Error("deactivate did not return the cold service to stopped")
	}
}
