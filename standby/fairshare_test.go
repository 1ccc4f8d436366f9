package standby

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/understudy/understudy/standby/criuprobe"
)

// TestSharesFollowArrivalsAndDepartures activates services one by one and
// checks the containers' live limits as services arrive and leave.
func TestSharesFollowArrivalsAndDepartures(t *testing.T) {
	const mib = 1 << 20
	env := newTestEnv(t, func(c *Config) { c.Capacity = CapacityConfig{Containers: 10, Memory: 1024 * mib} })
	ctx := t.Context()
	for name, prio := range map[string]int{"hi": 300, "lo": 100, "mid": 200} {
		s := env.spec(name, ModeCold)
		s.Priority, s.Memory = prio, 64*mib
		env.prepare(t, s)
	}
	allowance := func(name string) string { return env.rt.config(name)[allowanceKey] }
	step := func(what string, fn func() error) {
		t.Helper()
		if err := fn(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if err := env.agent.Rebalance(ctx); err != nil {
			t.Fatalf("rebalance after %s: %v", what, err)
		}
	}
	activate := func(n string) func() error {
		return func() error { _, err := env.agent.Activate(ctx, 1, n); return err }
	}
	step("activate hi", activate("hi"))
	if got := allowance("hi"); got != "" {
		t.Errorf("a lone active service got allowance %q; want its prepared limits", got)
	}
	step("activate lo", activate("lo"))
	if a, b := allowance("hi"), allowance("lo"); a != "75%" || b != "25%" {
		t.Errorf("hi %s lo %s, want 75%% and 25%%", a, b)
	}
	if m := env.rt.memory("hi"); m != (64+672)*mib {
		t.Errorf("hi memory %d MiB, want %d", m/mib, 64+672)
	}
	step("activate mid", activate("mid"))
	if a, b, c := allowance("hi"), allowance("mid"), allowance("lo"); a != "50%" || b != "33%" || c != "17%" {
		t.Errorf("hi %s mid %s lo %s, want 50%% 33%% 17%%", a, b, c)
	}
	step("deactivate hi", func() error { _, err := env.agent.Deactivate(ctx, 1, "hi"); return err })
	if a, b, c := allowance("hi"), allowance("mid"), allowance("lo"); a != "100%" || b != "67%" || c != "33%" {
		t.Errorf("after hi left: hi %s mid %s lo %s, want 100%% 67%% 33%%", a, b, c)
	}
	if m := env.rt.memory("hi"); m != 64*mib {
		t.Errorf("hi memory after leaving %d MiB, want its prepared 64", m/mib)
	}
	// The capacity endpoint shows each active container's share.
	rec := httptest.NewRecorder()
	env.agent.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/capacity", nil))
	var c Capacity
	if err := json.Unmarshal(rec.Body.Bytes(), &c); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("GET /v1/capacity: %d %v", rec.Code, err)
	}
	if len(c.Shares) != 2 || c.Shares[0].Service != "lo" || c.Shares[0].CPUAllowance != 33 || c.Shares[1].CPUAllowance != 67 {
		t.Errorf("capacity shares = %+v, want lo 33%% and mid 67%%", c.Shares)
	}
	// Re-preparing an active service keeps its share.
	s := env.spec("mid", ModeCold)
	s.Priority, s.Memory = 200, 64*mib
	env.prepare(t, s)
	if got := allowance("mid"); got != "67%" {
		t.Errorf("re-prepare reset mid's allowance to %q", got)
	}
	step("delete lo", func() error { return env.agent.Delete(ctx, 1, "lo") })
	if got := allowance("mid"); got != "100%" {
		t.Errorf("mid alone again: allowance %q, want 100%%", got)
	}
	if exists, _, _ := env.rt.status("lo"); exists {
		t.Error("rebalancing re-created the deleted container")
	}
}

func TestCapacityShowsUseWhenTheRuntimeReportsIt(t *testing.T) {
	env := newTestEnv(t, nil)
	cfg := testConfig(t.TempDir())
	a, err := NewAgent(t.Context(), cfg, usageRuntime{env.rt}, AgentOptions{CRIU: criuprobe.Status{Reason: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	a.Reconcile(t.Context())
	for _, n := range []string{"u1", "u2"} {
		if _, err := a.Prepare(t.Context(), env.spec(n, ModeCold)); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Activate(t.Context(), 1, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Rebalance(t.Context()); err != nil {
		t.Fatal(err)
	}
	c, err := a.Capacity()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Shares) != 2 {
		t.Fatalf("shares %+v, want 2", c.Shares)
	}
	for _, s := range c.Shares {
		if s.Use == nil || s.Use.MemoryBytes != 32<<20 || s.CPUAllowance != 50 {
			t.Errorf("%s: share %d%% use %+v, want 50%% and the runtime's use", s.Service, s.CPUAllowance, s.Use)
		}
	}
}

// flakyRuntime fails Ensure of existing instances while failing is set.
type flakyRuntime struct {
	*fakeRuntime
	failing atomic.Bool
}

func (f *flakyRuntime) Ensure(ctx context.Context, spec InstanceSpec) (bool, error) {
	if exists, _, _ := f.status(spec.Name); exists && f.failing.Load() {
		return false, errors.New("instance is busy running an update operation")
	}
	return f.fakeRuntime.Ensure(ctx, spec)
}

func TestRebalanceRetriesAfterAFailure(t *testing.T) {
	env := newTestEnv(t, nil)
	rt := &flakyRuntime{fakeRuntime: env.rt}
	a, err := NewAgent(t.Context(), testConfig(t.TempDir()), rt, AgentOptions{CRIU: criuprobe.Status{Reason: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	a.Reconcile(t.Context())
	for _, n := range []string{"r1", "r2"} {
		if _, err := a.Prepare(t.Context(), env.spec(n, ModeCold)); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Activate(t.Context(), 1, n); err != nil {
			t.Fatal(err)
		}
	}
	rt.failing.Store(true)
	if err := a.Rebalance(t.Context()); err == nil {
		t.Fatal("rebalance with a failing runtime reported no error")
	}
	if got := env.rt.config("r1")[allowanceKey]; got != "" {
		t.Fatalf("allowance %q set by a failing runtime", got)
	}
	rt.failing.Store(false)
	if err := a.Rebalance(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"r1", "r2"} {
		if got := env.rt.config(n)[allowanceKey]; got != "50%" {
			t.Errorf("%s: allowance %q after the retry, want 50%%", n, got)
		}
	}
}
