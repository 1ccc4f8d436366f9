package monitor

import (
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/understudy/understudy/playbooks"
	"github.com/understudy/understudy/recover"
)

func TestSignalsOf(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	fenceFailed := &recover.Incident{Steps: []recover.StepRecord{{Kind: playbooks.Fence, Status: recover.StatusFailed}}}
	flipped := &recover.Incident{Phases: []recover.PhaseTime{{Phase: "detected"}, {Phase: "dns-flipped"}}}
	verified := &recover.Incident{Phases: []recover.PhaseTime{{Phase: "dns-flipped"}, {Phase: "dns-verified"}, {Phase: "on-standby"}}}
	resetUnverified := &recover.Incident{Phases: []recover.PhaseTime{{Phase: "dns-flipped"}, {Phase: "dns-verified"}, {Phase: "dns-reset"}}}
	cases := []struct {
		name   string
		rec    recover.Record
		verify bool
		want   signals
	}{
		{"primary, no incident", recover.Record{State: recover.Primary}, true, signals{}},
		{"stuck", recover.Record{State: recover.Stuck}, false, signals{unprotected: true}},
		{"damped", recover.Record{State: recover.OnStandby, DampedUntil: now.Add(time.Minute)}, false, signals{unprotected: true}},
		{"damping over", recover.Record{State: recover.Primary, DampedUntil: now.Add(-time.Minute)}, false, signals{}},
		{"on standby, fence failed", recover.Record{State: recover.OnStandby, Incident: fenceFailed}, false, signals{unfenced: true}},
		{"back on primary after a failed fence", recover.Record{State: recover.Primary, Incident: fenceFailed}, false, signals{}},
		{"flipped, not verified", recover.Record{State: recover.OnStandby, Incident: flipped}, true, signals{unverified: true}},
		{"flipped, no dns.verify servers", recover.Record{State: recover.OnStandby, Incident: flipped}, false, signals{}},
		{"flipped and verified", recover.Record{State: recover.OnStandby, Incident: verified}, true, signals{}},
		{"reset flip not verified", recover.Record{State: recover.Primary, Incident: resetUnverified}, true, signals{unverified: true}},
	}
	for _, tc := range cases {
		if got := signalsOf(tc.rec, tc.verify, now); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// The leader exports each service's state, its standby's preparation and
// its epoch; a failover moves the state series; every metric it gathers
// passes promlint.
func TestStatusMetrics(t *testing.T) {
	h := start(t, testInventory, nil)
	h.eventually("web prepared, in /metrics", func() bool {
		return h.metricLine(`understudy_monitor_standby_prepared{service="web",standby="sb"} 1`)
	})
	for _, line := range []string{
		`understudy_monitor_service_state{service="web",state="primary"} 1`,
		`understudy_monitor_service_state{service="web",state="on-standby"} 0`,
		`understudy_monitor_service_unprotected{service="web"} 0`,
		`understudy_monitor_service_fence_unconfirmed{service="web"} 0`,
		`understudy_monitor_service_dns_unverified{service="web"} 0`,
		`understudy_monitor_leader_epoch 1`,
	} {
		if !h.metricLine(line) {
			t.Errorf("/metrics lacks %s", line)
		}
	}
	if code, e := h.post("/v1/services/web/failover", `{"reason":"drill"}`); code != http.StatusAccepted {
		t.Fatalf("failover: %d %+v", code, e)
	}
	h.eventually("web on-standby in /metrics", func() bool {
		return h.metricLine(`understudy_monitor_service_state{service="web",state="on-standby"} 1`)
	})
	if h.metricLine(`understudy_monitor_standby_prepared{service="web"`) {
		t.Error("standby_prepared exported for a service off its primary")
	}
	problems, err := testutil.GatherAndLint(h.ctrl.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}
