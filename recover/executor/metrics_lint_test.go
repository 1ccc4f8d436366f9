package executor

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/understudy/understudy/recover"
)

// Every metric of the executor, with a series each, passes promlint.
func TestMetricsLint(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := NewMetrics(reg)
	m.incidents.WithLabelValues(recover.ResultRecovered).Inc()
	m.phase.WithLabelValues("fence").Observe(0.1)
	m.recovery.Observe(1)
	m.moves.WithLabelValues(recover.KindMigrate).Observe(2)
	m.dnsVerifyFailed("127.0.0.1:5354")
	m.fenceStopped(true)
	// 8 results, 2 move kinds and 2 fence-stop results exist from the
	// start; a phase, the recovery histogram and a dns.verify server make 15.
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 15 {
		t.Errorf("gathered %d series, %v; want 15", n, err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}
