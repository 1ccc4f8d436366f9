package monitor

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/monitor/migrate"
	"github.com/understudy/understudy/recover"
)

// fakeMigrator records copies; every copy answers its spare's address.
type fakeMigrator struct {
	mu      sync.Mutex
	copies  map[string]string // service -> spare
	deleted []string          // "service@spare"
}

func (m *fakeMigrator) Copy(_ context.Context, svc recover.Service, _, to string) (netip.Addr, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.copies[svc.Name] = to
	return netip.MustParseAddr("10.9.2.100"), nil
}

func (m *fakeMigrator) DeleteCopy(_ context.Context, svc recover.Service, on string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.copies, svc.Name)
	m.deleted = append(m.deleted, svc.Name+"@"+on)
	return nil
}

func (m *fakeMigrator) snapshot() (map[string]string, []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := map[string]string{}
	for k, v := range m.copies {
		c[k] = v
	}
	return c, append([]string(nil), m.deleted...)
}

// spareInventory adds three spares to testInventory: spare-1 and spare-3
// in az1 (spare-3 full), spare-2 in az2.
const spareInventory = testInventory + `spares:
  - {name: spare-1, zone: az1, incus: {socket: /nonexistent/s1.socket}, capacity: {containers: 4, memory: 1GiB}}
  - {name: spare-2, zone: az2, incus: {socket: /nonexistent/s2.socket}}
  - {name: spare-3, zone: az1, incus: {socket: /nonexistent/s3.socket}, capacity: {containers: 0, memory: 32MiB}}
`

func (h *harness) migrate(body string) (int, api.MigrateResponse) {
	h.t.Helper()
	resp := h.request(http.MethodPost, "/v1/services/web/migrate", body, nil)
	defer resp.Body.Close()
	var res api.MigrateResponse
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		h.t.Fatalf("migrate answer: %v", err)
	}
	return resp.StatusCode, res
}

func TestMigrateAndFailback(t *testing.T) {
	mig := &fakeMigrator{copies: map[string]string{}}
	h := start(t, spareInventory, func(h *harness) { h.migrator = mig })
	h.eventually("web prepared", func() bool { return h.service("web").Standby.Prepared })

	code, dry := h.migrate(`{"dry_run":true}`)
	if code != http.StatusOK || len(dry.Candidates) != 3 {
		t.Fatalf("dry run: %d %+v", code, dry)
	}
	want := map[string]struct {
		eligible bool
		reason   string
	}{"spare-1": {true, "chosen"}, "spare-2": {false, "other zone"}, "spare-3": {false, "not enough free memory"}}
	for _, c := range dry.Candidates {
		w := want[c.Name]
		if c.Eligible != w.eligible || len(c.Reasons) == 0 || !strings.Contains(c.Reasons[0], w.reason) {
			t.Errorf("candidate %s: eligible %v, reasons %q; want %v and %q", c.Name, c.Eligible, c.Reasons, w.eligible, w.reason)
		}
	}
	if code, res := h.migrate(`{}`); code != http.StatusConflict || res.State != "primary" {
		t.Errorf("migrate from the primary: %d %+v, want 409", code, res)
	}

	if code, e := h.post("/v1/services/web/failover", ""); code != http.StatusAccepted {
		t.Fatalf("failover: %d %+v", code, e)
	}
	h.eventually("web on-standby", func() bool { return h.service("web").State == "on-standby" })
	if code, res := h.migrate(`{"to":"spare-2"}`); code != http.StatusConflict || !strings.Contains(res.Error, "other zone") {
		t.Errorf("migrate to another zone: %d %+v, want 409", code, res)
	}
	if code, res := h.migrate(`{"reason":"test"}`); code != http.StatusAccepted || res.To != "spare-1" {
		t.Fatalf("migrate: %d %+v", code, res)
	}
	h.eventually("web on-spare", func() bool { return h.service("web").State == "on-spare" })
	st := h.service("web")
	if st.Where != "spare" || st.Host != "spare-1" || st.Address != "10.9.2.100" || st.LastIncident.Result != "migrated" {
		t.Errorf("after migration: %+v", st)
	}
	if got := h.dns.get("web.lab.test."); len(got) != 1 || got[0].String() != "10.9.2.100" {
		t.Errorf("DNS after migration = %v", got)
	}
	if copies, _ := mig.snapshot(); copies["web"] != "spare-1" {
		t.Errorf("copies = %v", copies)
	}
	if _, active, _ := h.agent.snapshot(); active["web"] {
		t.Error("the standby slot was not deactivated")
	}

	if code, e := h.post("/v1/services/web/failback", `{"reason":"home"}`); code != http.StatusAccepted {
		t.Fatalf("failback: %d %+v", code, e)
	}
	h.eventually("web on its primary", func() bool { return h.service("web").State == "primary" })
	if got := h.dns.get("web.lab.test."); len(got) != 1 || got[0].String() != "10.9.0.11" {
		t.Errorf("DNS after failback = %v", got)
	}
	h.eventually("the spare copy deleted", func() bool {
		_, deleted := mig.snapshot()
		return len(deleted) == 1 && deleted[0] == "web@spare-1"
	})
	if code, _ := h.post("/v1/services/web/failback", ""); code != http.StatusConflict {
		t.Errorf("failback on the primary: %d, want 409", code)
	}
	for _, path := range []string{"/v1/services/nope/failback", "/v1/services/nope/migrate"} {
		if code, _ := h.post(path, ""); code != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", path, code)
		}
	}
}

// TestAutomaticMoves: api (max-on-standby 50ms) migrates to the spare by
// itself; web (failback: auto) returns to its primary once the primary
// passed its check for the hold-down, and not while it fails.
func TestAutomaticMoves(t *testing.T) {
	text := strings.Replace(spareInventory, "    mode: warm\n", "    mode: warm\n    failback: auto\n", 1)
	text = strings.Replace(text, "    mode: cold\n", "    mode: cold\n    max-on-standby: 50ms\n", 1)
	mig := &fakeMigrator{copies: map[string]string{}}
	h := start(t, text, func(h *harness) {
		h.migrator = mig
		h.tune = func(o *Options) { o.MoveInterval, o.HoldDown = 10*time.Millisecond, 100*time.Millisecond }
		h.probes.set("10.9.0.11", true) // web's primary fails its check until the test heals it
	})
	h.eventually("both prepared", func() bool { return h.service("web").Standby.Prepared && h.service("api").Standby.Prepared })
	for _, name := range []string{"web", "api"} {
		if code, e := h.post("/v1/services/"+name+"/failover", ""); code != http.StatusAccepted {
			t.Fatalf("failover %s: %d %+v", name, code, e)
		}
	}
	h.eventually("api migrated to spare-1 by policy", func() bool {
		st := h.service("api")
		return st.State == "on-spare" && st.Host == "spare-1" && st.LastIncident.Source == "policy"
	})
	h.eventually("web on-standby", func() bool { return h.service("web").State == "on-standby" })
	time.Sleep(300 * time.Millisecond) // three hold-downs with a failing primary
	if st := h.service("web"); st.State != "on-standby" {
		t.Fatalf("web left the standby while its primary failed: %+v", st)
	}
	healed := time.Now()
	h.probes.set("10.9.0.11", false)
	h.eventually("web failed back by policy", func() bool {
		st := h.service("web")
		return st.State == "primary" && st.LastIncident.Source == "policy" && st.LastIncident.Result == "failed-back"
	})
	if since := time.Since(healed); since < 100*time.Millisecond {
		t.Errorf("web failed back %v after its primary healed, before the hold-down of 100ms", since)
	}
	if st := h.service("api"); st.State != "on-spare" {
		t.Errorf("api (failback: manual) left the spare: %+v", st)
	}
}

// TestMigrateAntiAffinity: once api (role front) runs on spare-1, the dry
// run for web (role front too) prefers spare-3 and says why spare-1 lost.
func TestMigrateAntiAffinity(t *testing.T) {
	text := strings.ReplaceAll(spareInventory, "    standby: sb\n", "    standby: sb\n    role: front\n")
	text = strings.Replace(text, "capacity: {containers: 0, memory: 32MiB}", "capacity: {containers: 2}", 1)
	h := start(t, text, func(h *harness) { h.migrator = &fakeMigrator{copies: map[string]string{}} })
	h.eventually("both prepared", func() bool { return h.service("web").Standby.Prepared && h.service("api").Standby.Prepared })
	for _, name := range []string{"web", "api"} {
		if code, e := h.post("/v1/services/"+name+"/failover", ""); code != http.StatusAccepted {
			t.Fatalf("failover %s: %d %+v", name, code, e)
		}
	}
	h.eventually("api on-standby", func() bool { return h.service("api").State == "on-standby" })
	resp := h.request(http.MethodPost, "/v1/services/api/migrate", `{"to":"spare-1"}`, nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("migrate api: %s", resp.Status)
	}
	h.eventually("api on spare-1", func() bool { st := h.service("api"); return st.State == "on-spare" && st.Host == "spare-1" })
	code, dry := h.migrate(`{"dry_run":true}`)
	if code != http.StatusOK || len(dry.Candidates) != 3 {
		t.Fatalf("dry run: %d %+v", code, dry)
	}
	first, second := dry.Candidates[0], dry.Candidates[1]
	if first.Name != "spare-3" || first.Rank != 1 || second.Name != "spare-1" || second.Rank != 2 ||
		len(second.Reasons) == 0 || !strings.Contains(second.Reasons[0], "already hosts role front") ||
		len(second.Roles) != 1 || second.Roles[0] != "front" || second.FreeSlots != 3 {
		t.Errorf("ranking = %+v", dry.Candidates)
	}
}

// TestSpareWithoutNetworkGetsNoStaticAddress: no address is built in; a
// spare without a pool gives its copies none (the static keys are removed),
// and spares[].network is the pool of a spare that sets it.
func TestSpareWithoutNetworkGetsNoStaticAddress(t *testing.T) {
	c := newIdle(t, spareInventory+
		"  - {name: spare-4, zone: az1, incus: {socket: /nonexistent/s4.socket}, network: {gateway: 10.0.2.1, prefix-len: 24, pool: 10.0.2.100-10.0.2.101}}\n", nil)
	m := migrate.New(migrate.Config{Inventory: func() *inventory.Inventory { return c.plan().Inv }, Records: func() []recover.Record { return nil }})
	if p, ok := m.Pool("spare-1"); ok {
		t.Errorf("spare-1 (no network) has pool %+v", p)
	}
	cfg, release, err := m.AddressConfig("spare-1", "web")
	if err != nil {
		t.Fatal(err)
	}
	release()
	if v, ok := cfg["environment.IPADDR"]; !ok || v != "" || cfg["environment.GATEWAY"] != "" {
		t.Errorf("copy config without a pool = %v, want IPADDR and GATEWAY removed", cfg)
	}
	a := netip.MustParseAddr
	want := SparePool{First: a("10.0.2.100"), Last: a("10.0.2.101"), Gateway: a("10.0.2.1"), PrefixLen: 24}
	if p, ok := m.Pool("spare-4"); !ok || p != want {
		t.Errorf("spare-4 pool = %+v, %v; want %+v from spares[].network", p, ok, want)
	}
}
