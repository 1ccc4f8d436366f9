package monitor

import (
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/monitor/capacity/capacitytest"
)

// sparesWithAgents are four spares in az1 for testInventory: spare-a and
// spare-b answer (capacitytest.Fake), spare-c has an agent that does not,
// and the most free slots (so it would win if unknown counted as idle),
// spare-d has no agent.
const sparesWithAgents = testInventory + `spares:
  - {name: spare-a, zone: az1, agent: https://127.0.0.1:1, incus: {socket: /nonexistent/a.socket}}
  - {name: spare-b, zone: az1, agent: https://127.0.0.1:2, incus: {socket: /nonexistent/b.socket}}
  - {name: spare-c, zone: az1, agent: https://127.0.0.1:3, incus: {socket: /nonexistent/c.socket}, capacity: {containers: 9}}
  - {name: spare-d, zone: az1, incus: {socket: /nonexistent/d.socket}}
`

// TestMigrateBySpareSteal: zone and role tie, so the measured steal
// decides (spare-b, though spare-a comes first by name); the spare whose
// agent does not answer and the one without an agent are unknown, ranked
// after the measured ones whatever their free slots, and say why; the
// migration goes where the dry run said.
func TestMigrateBySpareSteal(t *testing.T) {
	src := capacitytest.New()
	src.Set("spare-a", 2, 8, 1.0) // 8% steal (under the 10% ceiling), 0.50 per CPU
	src.Set("spare-b", 4, 2, 3.0) // 2% steal, 0.75 per CPU
	mig := &fakeMigrator{copies: map[string]string{}}
	h := start(t, sparesWithAgents, func(h *harness) {
		h.migrator = mig
		h.tune = func(o *Options) { o.SpareCapacity, o.MoveInterval = src, 10*time.Millisecond }
	})
	h.eventually("web prepared", func() bool { return h.service("web").Standby.Prepared })
	h.eventually("the spares with agents sampled", func() bool { return len(h.ctrl.spareCap.Samples()) == 3 })

	code, dry := h.migrate(`{"dry_run":true}`)
	if code != 200 || len(dry.Candidates) != 4 {
		t.Fatalf("dry run: %d %+v", code, dry)
	}
	want := []struct {
		name         string
		rank         int
		steal, load1 float64
		unmeasured   string // fragment; "" for measured
		reason       string // fragment of the first reason
	}{
		{"spare-b", 1, 2, 0.75, "", "chosen: zone az1, steal 2%, load 0.75 per CPU"},
		{"spare-a", 2, 8, 0.5, "", "lost: higher steal 8% vs 2% on spare-b"},
		{"spare-c", 3, 0, 0, "no answer from its agent", "lost: steal and load unknown (no answer from its agent"},
		{"spare-d", 4, 0, 0, "no spares[].agent", "lost: steal and load unknown (no spares[].agent), measured on spare-b"},
	}
	for i, w := range want {
		c := dry.Candidates[i]
		if c.Name != w.name || c.Rank != w.rank || c.Steal != w.steal || c.Load1 != w.load1 ||
			(w.unmeasured == "") != (c.Unmeasured == "") || !strings.Contains(c.Unmeasured, w.unmeasured) ||
			len(c.Reasons) == 0 || !strings.Contains(c.Reasons[0], w.reason) {
			t.Errorf("candidate %d = %+v; want %s rank %d steal %v load %v unmeasured %q reason %q",
				i, c, w.name, w.rank, w.steal, w.load1, w.unmeasured, w.reason)
		}
	}

	if code, e := h.post("/v1/services/web/failover", ""); code != 202 {
		t.Fatalf("failover: %d %+v", code, e)
	}
	h.eventually("web on-standby", func() bool { return h.service("web").State == "on-standby" })
	if code, res := h.migrate(`{"reason":"test"}`); code != 202 || res.To != "spare-b" {
		t.Fatalf("migrate: %d %+v, want to spare-b", code, res)
	}
	h.eventually("web on spare-b", func() bool { st := h.service("web"); return st.State == "on-spare" && st.Host == "spare-b" })
}

// TestNewLeaderSamplesAtOnce: a leader samples the spares when its term
// starts, not one move interval later, so a migrate request right after a
// takeover ranks by measured numbers.
func TestNewLeaderSamplesAtOnce(t *testing.T) {
	src := capacitytest.New()
	src.Set("spare-a", 2, 20, 1.0)
	h := start(t, sparesWithAgents, func(h *harness) {
		h.tune = func(o *Options) { o.SpareCapacity, o.MoveInterval = src, time.Hour }
	})
	h.eventually("spare-a sampled well before the first interval", func() bool {
		_, ok := h.ctrl.spareCap.Samples()["spare-a"]
		return ok
	})
}
