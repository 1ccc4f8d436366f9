package probe

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the monitor's Prometheus collectors; README.md documents them.
type Metrics struct {
	probeDuration *prometheus.HistogramVec
	probeFailures *prometheus.CounterVec
	targetUp      *prometheus.GaugeVec
	events        *prometheus.CounterVec
	confirmations *prometheus.CounterVec
	fastReprobes  *prometheus.CounterVec
}

// NewMetrics creates the collectors and registers them with reg; a nil reg
// leaves them unregistered (tests).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		probeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "understudy_probe_duration_seconds",
			Help:    "Duration of one probe, successful or not, by probe kind.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 4, 10), // 50µs … 13s
		}, []string{"kind"}),
		probeFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "understudy_probe_failures_total",
			Help: "Failed probes, by probe kind and target.",
		}, []string{"kind", "target"}),
		targetUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "understudy_probe_target_up",
			Help: "1 when the target is up after hysteresis, 0 when down.",
		}, []string{"target"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "understudy_probe_events_total",
			Help: "Events emitted, by kind.",
		}, []string{"kind"}),
		confirmations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "understudy_probe_confirmations_total",
			Help: "Confirmation rounds asked of the standby agent, by the hypervisor the findings are on (empty when they span several): one per host whose VMs failed together.",
		}, []string{"hypervisor"}),
		fastReprobes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "understudy_probe_fast_reprobes_total",
			Help: "Probes the fast re-probe (monitor.fast-interval) started before the interval: the target was up and its latest probe failed; by probe kind and target.",
		}, []string{"kind", "target"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.probeDuration, m.probeFailures, m.targetUp, m.events, m.confirmations, m.fastReprobes} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register monitor metrics: %w", err)
			}
		}
	}
	return m, nil
}

func (m *Metrics) observeProbe(t *Target, seconds float64, err error) {
	m.probeDuration.WithLabelValues(string(t.Kind)).Observe(seconds)
	if err != nil {
		m.probeFailures.WithLabelValues(string(t.Kind), t.Name).Inc()
	}
}

func (m *Metrics) setUp(target string, up bool) {
	v := 0.0
	if up {
		v = 1
	}
	m.targetUp.WithLabelValues(target).Set(v)
}

func (m *Metrics) countEvent(k EventKind) { m.events.WithLabelValues(k.String()).Inc() }

func (m *Metrics) countConfirmation(hypervisor string) {
	m.confirmations.WithLabelValues(hypervisor).Inc()
}

func (m *Metrics) countFastReprobe(t *Target) {
	m.fastReprobes.WithLabelValues(string(t.Kind), t.Name).Inc()
}
