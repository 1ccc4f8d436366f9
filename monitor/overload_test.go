package monitor

import (
	"context"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/standby"
)

// fakeCapacity serves a capacity per standby, as agents' GET /v1/capacity
// would; a standby without one fails.
type fakeCapacity struct {
	mu   sync.Mutex
	caps map[string]standby.Capacity
}

var _ CapacitySource = (*fakeCapacity)(nil)

func (f *fakeCapacity) Capacity(_ context.Context, name string) (standby.Capacity, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.caps[name]
	if !ok {
		return standby.Capacity{}, context.DeadlineExceeded
	}
	return c, nil
}

func (f *fakeCapacity) set(name string, steal, load float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.caps[name] = standby.Capacity{CPUs: 2, StealPercent: steal, Load: [3]float64{load, load, load}}
}

// orderMigrator is a Migrator that records the order of its copies.
type orderMigrator struct {
	mu    sync.Mutex
	order []string
}

func (m *orderMigrator) Copy(_ context.Context, svc recover.Service, _, _ string) (netip.Addr, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.order = append(m.order, svc.Name)
	return netip.AddrFrom4([4]byte{10, 9, 2, byte(100 + len(m.order))}), nil
}

func (m *orderMigrator) DeleteCopy(context.Context, recover.Service, string) error { return nil }

func (m *orderMigrator) copies() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.order)
}

// metricLine reports whether /metrics has a line starting with prefix.
func (h *harness) metricLine(prefix string) bool {
	h.t.Helper()
	resp, err := http.Get(h.url + "/metrics")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

// overloadInventory gives api a lower priority than web and a short
// overload window.
func overloadInventory(enabled bool) string {
	text := strings.Replace(spareInventory, "    mode: cold\n", "    mode: cold\n    priority: 50\n", 1)
	on := "true"
	if !enabled {
		on = "false"
	}
	return text + "migration:\n  overload: {enabled: " + on + ", steal: 10, load: 1, window: 100ms, cool-down: 100ms}\n"
}

// TestOverloadMigratesLowestPriorityFirst: once the standby's steal and
// load have both been high for the window, api (priority 50) moves to the
// spare, then, after another window, web (priority 100).
func TestOverloadMigratesLowestPriorityFirst(t *testing.T) {
	capa := &fakeCapacity{caps: map[string]standby.Capacity{}}
	capa.set("sb", 0, 0.1)
	mig := &orderMigrator{}
	h := start(t, overloadInventory(true), func(h *harness) {
		h.migrator = mig
		h.tune = func(o *Options) { o.MoveInterval, o.Capacity = 10*time.Millisecond, capa }
	})
	h.eventually("both prepared", func() bool { return h.service("web").Standby.Prepared && h.service("api").Standby.Prepared })
	for _, name := range []string{"web", "api"} {
		if code, e := h.post("/v1/services/"+name+"/failover", ""); code != http.StatusAccepted {
			t.Fatalf("failover %s: %d %+v", name, code, e)
		}
	}
	h.eventually("both on-standby", func() bool {
		return h.service("web").State == "on-standby" && h.service("api").State == "on-standby"
	})
	capa.set("sb", 30, 4) // 30% steal, load 2 per CPU
	h.eventually("both migrated by policy", func() bool {
		w, a := h.service("web"), h.service("api")
		return w.State == "on-spare" && a.State == "on-spare"
	})
	if got := mig.copies(); !slices.Equal(got, []string{"api", "web"}) {
		t.Errorf("copies in order %v, want api (priority 50) before web (100)", got)
	}
	st := h.service("api")
	if st.LastIncident.Source != "policy" || !strings.Contains(st.LastIncident.Reason, "standby overloaded") {
		t.Errorf("api's migration: source %q reason %q, want policy and the overload", st.LastIncident.Source, st.LastIncident.Reason)
	}
	h.eventually("the overload gauge at 1", func() bool {
		return h.metricLine(`understudy_monitor_standby_overloaded{standby="sb"} 1`)
	})
	capa.set("sb", 30, 0.5) // steal alone: work is not queueing
	h.eventually("the overload gauge back at 0", func() bool {
		return h.metricLine(`understudy_monitor_standby_overloaded{standby="sb"} 0`)
	})
}

// TestOverloadNeedsStealAndLoad: high steal with a low load, or a trigger
// turned off, moves nothing.
func TestOverloadNeedsStealAndLoad(t *testing.T) {
	tests := []struct {
		name        string
		enabled     bool
		steal, load float64
	}{
		{"steal alone", true, 50, 1},
		{"load alone", true, 5, 8},
		{"disabled", false, 50, 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			capa := &fakeCapacity{caps: map[string]standby.Capacity{}}
			capa.set("sb", tc.steal, tc.load)
			mig := &orderMigrator{}
			h := start(t, overloadInventory(tc.enabled), func(h *harness) {
				h.migrator = mig
				h.tune = func(o *Options) { o.MoveInterval, o.Capacity = 10*time.Millisecond, capa }
			})
			h.eventually("api prepared", func() bool { return h.service("api").Standby.Prepared })
			if code, e := h.post("/v1/services/api/failover", ""); code != http.StatusAccepted {
				t.Fatalf("failover: %d %+v", code, e)
			}
			h.eventually("api on-standby", func() bool { return h.service("api").State == "on-standby" })
			h.eventually("the overload gauge at 0", func() bool {
				return h.metricLine(`understudy_monitor_standby_overloaded{standby="sb"} 0`)
			})
			time.Sleep(300 * time.Millisecond) // three windows
			if st := h.service("api"); st.State != "on-standby" || len(mig.copies()) != 0 {
				t.Errorf("api %s after %d copies, want it left on the standby", st.State, len(mig.copies()))
			}
		})
	}
}
