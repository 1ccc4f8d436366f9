package recover

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Every metric of the executor, with a series each, passes promlint.
func TestMetricsLint(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := NewMetrics(reg)
	m.incidents.WithLabelValues(ResultRecovered).Inc()
	m.phase.WithLabelValues("fence").Observe(0.1)
	m.recovery.Observe(1)
	m.moves.WithLabelValues(KindMigrate).Observe(2)
	m.dnsVerifyFailed("127.0.0.1:5354")
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 5 {
		t.Errorf("gathered %d series, %v; want 5", n, err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}
