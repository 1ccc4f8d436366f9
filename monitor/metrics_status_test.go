package monitor

import (
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

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
		`understudy_monitor_service_unprotected_no_capacity{service="web",standby="sb"} 0`,
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
