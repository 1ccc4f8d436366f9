package standby

import "github.com/prometheus/client_golang/prometheus"

// metrics are the agent's Prometheus collectors, registered on its own registry.
type metrics struct {
	registry    *prometheus.Registry
	activations *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	refused     prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		activations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "understudy_agent_activations_total",
			Help: "Activations by service and result (ok, fallback, no_capacity, stale_epoch, error).",
		}, []string{"service", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "understudy_agent_activation_seconds",
			Help:    "Time from activation request to service port open, by preparation mode.",
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30},
		}, []string{"mode"}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "understudy_agent_refused_requests_total",
			Help: "Mutating requests refused because the client certificate is not a monitor's.",
		}),
	}
	m.registry.MustRegister(m.activations, m.duration, m.refused,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}
