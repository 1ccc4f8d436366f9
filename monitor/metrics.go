package monitor

import "github.com/prometheus/client_golang/prometheus"

// metrics are the controller's own Prometheus collectors (README.md lists
// them); the probe engine's, recover's and the API's (package httpapi) are
// registered beside them.
type metrics struct {
	triggers *prometheus.CounterVec
	prepares *prometheus.CounterVec
	reloads  *prometheus.CounterVec
	leader   prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		triggers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "understudy_monitor_triggers_total",
			Help: "Triggers handed to the incident executor, by source (monitor, proxy, cli) and result (accepted, refused, unknown, not-leader, error).",
		}, []string{"source", "result"}),
		prepares: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "understudy_monitor_prepares_total",
			Help: "Prepare requests sent to standby agents, by result (ok, error).",
		}, []string{"result"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "understudy_monitor_reloads_total",
			Help: "Inventory reloads, by result (applied, refused).",
		}, []string{"result"}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "understudy_monitor_leader",
			Help: "1 while this monitor leads (acts on incidents), 0 while it follows.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.triggers, m.prepares, m.reloads, m.leader)
	}
	return m
}
