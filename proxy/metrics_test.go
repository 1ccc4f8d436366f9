package proxy

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Every metric of the proxy, with a series each, passes promlint.
func TestMetricsLint(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := newMetrics(reg)
	m.requests.WithLabelValues("web", OutcomeForwarded).Inc()
	m.probeRTT.Observe(0.001)
	m.probeMisses.WithLabelValues("web").Inc()
	m.held.WithLabelValues("web").Set(1)
	m.holdSeconds.WithLabelValues("web").Observe(0.5)
	m.placementChanges.WithLabelValues("web").Inc()
	m.placementHeld.WithLabelValues("web").Set(0)
	m.suspects.WithLabelValues("web", suspectLabel(byConnection, "")).Inc()
	m.heldTotal.WithLabelValues("web", reasonFailover).Inc()
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 11 {
		t.Errorf("gathered %d series, %v; want 11 (one per metric)", n, err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}
