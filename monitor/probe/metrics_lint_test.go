package probe

import (
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Every metric of the probe engine, with a series each, passes promlint.
func TestMetricsLint(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	target := &Target{Name: "service/web", Kind: KindICMP}
	m.observeProbe(target, 0.001, errors.New("timeout"))
	m.setUp(target.Name, true)
	m.countEvent(ServiceDown)
	m.countConfirmation("host-a")
	m.countFastReprobe(target)
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 6 {
		t.Errorf("gathered %d series, %v; want 6", n, err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}
