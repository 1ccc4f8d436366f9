package monitor

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/understudy/understudy/internal/tcpcut"
	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/recover/embedded"
	"github.com/understudy/understudy/recover/store"
)

// startPair starts two monitors, mon-a then mon-b, on the same fakes and one
// embedded etcd, as two hosts sharing a cluster would. With ownProbes mon-b
// probes through fakes of its own, so the two can see different worlds.
func startPair(t *testing.T, ownProbes bool) (a, b *harness) {
	t.Helper()
	return startPairOn(t, testInventory, ownProbes)
}

// startPairOn is startPair on the inventory text.
func startPairOn(t *testing.T, text string, ownProbes bool) (a, b *harness) {
	t.Helper()
	emb, err := embedded.Start(context.Background(), embedded.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("start embedded etcd: %v", err)
	}
	t.Cleanup(func() { emb.Close() })
	a = start(t, text, func(h *harness) {
		h.tune = func(o *Options) { o.Store, o.Etcd, o.Name, o.LeaseTTL = nil, emb.Client, "mon-a", 2e9 }
	})
	a.eventually("mon-a leads", func() bool { return a.ctrl.roles.leading() != nil })
	b = start(t, text, func(h *harness) {
		h.agent, h.hv, h.dns, h.tokenFile = a.agent, a.hv, a.dns, a.tokenFile
		if !ownProbes {
			h.probes = a.probes
		}
		h.tune = func(o *Options) { o.Store, o.Etcd, o.Name, o.LeaseTTL = nil, emb.Client, "mon-b", 2e9 }
	})
	b.eventually("mon-b sees mon-a lead", func() bool {
		st := b.status()
		return len(st.Monitors) == 2 && st.Monitors[0].Name == "mon-a" && st.Monitors[0].Leader && !st.Monitors[1].Leader
	})
	return a, b
}

func TestOneOfTwoMonitorsLeadsAndTheOtherForwards(t *testing.T) {
	a, b := startPair(t, false)
	if b.ctrl.roles.leading() != nil {
		t.Fatal("both monitors lead")
	}
	a.eventually("web prepared by the leader", func() bool { return a.service("web").Standby.Prepared })
	// A follower passes on the leader's status, which knows what it
	// prepared; its own, from the store, cannot know.
	if st := b.status(); st.Monitor != "mon-b" || !b.service("web").Standby.Prepared {
		t.Errorf("follower's status: monitor %q, web standby %+v; want mon-b and the leader's preparation", st.Monitor, b.service("web").Standby)
	}
	for _, s := range (viewsAPI{b.ctrl}).Status(context.Background()).Services {
		if s.Service == "web" && (s.Standby.Prepared || s.Standby.Note == "") {
			t.Errorf("a follower's own status claims a preparation: %+v", s.Standby)
		}
	}

	// A mutating call to the follower is forwarded to the leader.
	if code, e := b.post("/v1/services/web/failover", `{"reason":"drill via follower"}`); code != http.StatusAccepted {
		t.Fatalf("failover through the follower: %d %+v", code, e)
	}
	a.eventually("web on-standby at the leader", func() bool { return a.service("web").State == "on-standby" })
	b.eventually("web on-standby at the follower, from the store", func() bool { return b.service("web").State == "on-standby" })
	if inc := b.service("web").LastIncident; inc == nil || inc.Reason != "drill via follower" || inc.Result != "recovered" {
		t.Errorf("incident seen by the follower = %+v", inc)
	}
	if got := a.dns.get("web.lab.test."); len(got) != 1 || got[0].String() != "10.9.1.11" {
		t.Errorf("DNS = %v", got)
	}
	if got := gathered(b.ctrl, "understudy_monitor_forwarded_total"); got != 1 {
		t.Errorf("forwarded calls counted by the follower = %v, want 1", got)
	}
	if got := value(a.ctrl.metrics.leader) + 2*value(b.ctrl.metrics.leader); got != 1 {
		t.Errorf("leader gauges: mon-a + 2*mon-b = %v, want 1 (mon-a alone)", got)
	}

	// A forwarded call that reaches a follower is not forwarded again.
	resp := b.request(http.MethodPost, "/v1/services/web/reset", "", http.Header{api.ForwardedHeader: {"mon-x"}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a forwarded call at a follower: %s, want 503", resp.Status)
	}
}

func TestFollowerTakesOverAndKeepsTheIncidentHistory(t *testing.T) {
	a, b := startPair(t, false)
	a.eventually("web prepared", func() bool { return a.service("web").Standby.Prepared })
	if code, e := a.post("/v1/services/web/failover", `{"reason":"before takeover"}`); code != http.StatusAccepted {
		t.Fatalf("failover: %d %+v", code, e)
	}
	a.eventually("web on-standby", func() bool { return a.service("web").State == "on-standby" })
	oldEpoch := a.status().Epoch

	a.stop() // a clean stop resigns: mon-b takes over at once
	b.eventually("mon-b leads", func() bool { return b.ctrl.roles.leading() != nil })
	st := b.status()
	if len(st.Monitors) != 1 || st.Monitors[0].Name != "mon-b" || !st.Monitors[0].Leader || st.Monitors[0].Since.IsZero() {
		t.Errorf("monitors after takeover = %+v", st.Monitors)
	}
	if st.Epoch <= oldEpoch {
		t.Errorf("new leader's epoch %d is not above the old one's %d", st.Epoch, oldEpoch)
	}
	if s := b.service("web"); s.State != "on-standby" || s.Incidents != 1 {
		t.Errorf("web after takeover = %s with %d incident(s), want on-standby with 1", s.State, s.Incidents)
	}
	// The new leader acts: a reset through it puts web back on its primary.
	if code, e := b.post("/v1/services/web/reset", `{"reason":"primary repaired"}`); code != http.StatusAccepted {
		t.Fatalf("reset at the new leader: %d %+v", code, e)
	}
	b.eventually("web primary", func() bool { return b.service("web").State == "primary" })
	if got := b.dns.get("web.lab.test."); len(got) != 1 || got[0].String() != "10.9.0.11" {
		t.Errorf("DNS after reset = %v", got)
	}
}

// value reads a counter's or gauge's current value.
// gathered is the value of the series name with labels (name=value pairs)
// in c's registry, -1 when there is none.
func gathered(c *Controller, name string, labels ...string) float64 {
	mfs, err := c.reg.Gather()
	if err != nil {
		return -1
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					found = found || (lp.GetName() == labels[i] && lp.GetValue() == labels[i+1])
				}
				if !found {
					continue next
				}
			}
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			return m.Gauge.GetValue()
		}
	}
	return -1
}

func value(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		return -1
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

// TestFollowerReportsWhatOnlyItSees: a follower's report counts as the
// monitor's (its vantage point) because it comes with the monitors'
// certificate (api-tls); see TestVantageNeedsMonitorCertificate.
func TestFollowerReportsWhatOnlyItSees(t *testing.T) {
	a, b := startPairOn(t, newAPIPKI(t).inventory(), true)
	a.eventually("api prepared", func() bool { return a.service("api").Standby.Prepared })
	// Only mon-b's probes see api-vm die; the agent confirms it.
	a.agent.setReachable("10.9.0.12", false)
	a.hv.Stop(context.Background(), "api-vm", 0)
	b.probes.set("10.9.0.12", true)
	b.probes.set("vm/api-vm/instance", true)
	a.eventually("api on-standby", func() bool { return a.service("api").State == "on-standby" })
	inc := a.service("api").LastIncident
	if inc.Source != "monitor" || !strings.HasPrefix(inc.Reason, "monitor mon-b: ") {
		t.Errorf("incident opened by %s: %q; want mon-b's monitor report", inc.Source, inc.Reason)
	}
	if confirm := inc.Steps[0]; confirm.Kind != "confirm" || confirm.Status != "done" {
		t.Errorf("confirm step = %+v; the leader must confirm a follower's report itself", confirm)
	}
}

// TestCleanStopHandsOverAtOnce: a monitor on an external etcd
// (monitor.etcd) that stops cleanly revokes its lease on the way out, so its
// candidacy is gone when Run returns and the other monitor need not wait a
// lease TTL to lead.
func TestCleanStopHandsOverAtOnce(t *testing.T) {
	emb, err := embedded.Start(context.Background(), embedded.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("start etcd: %v", err)
	}
	t.Cleanup(func() { emb.Close() })
	// The embedded etcd serves only its unix socket; a loopback TCP proxy
	// stands in for an external cluster's http:// endpoint.
	ep := tcpcut.New(t, emb.ClientURL).URL()
	inv := strings.Replace(testInventory, "  flap: {max: 100, window: 1h}\n", "  flap: {max: 100, window: 1h}\n  etcd: {endpoints: ['"+ep+"']}\n", 1)
	monitor := func(name string) *harness {
		return start(t, inv, func(h *harness) {
			h.tune = func(o *Options) { o.Store, o.Name, o.LeaseTTL = nil, name, 30e9 } // a TTL no test waits out
		})
	}
	a := monitor("mon-a")
	a.eventually("mon-a leads", func() bool { return a.ctrl.roles.leading() != nil })
	b := monitor("mon-b")
	b.eventually("mon-b campaigns", func() bool { return len(b.status().Monitors) == 2 })
	a.stop()
	resp, err := emb.Client.Get(context.Background(), store.DefaultPrefix+"leader/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range resp.Kvs {
		if strings.Contains(string(kv.Value), `"mon-a"`) {
			t.Fatalf("mon-a's candidacy %s outlived its clean stop (its lease was not revoked)", kv.Key)
		}
	}
	b.eventually("mon-b leads", func() bool { return b.ctrl.roles.leading() != nil })
}
