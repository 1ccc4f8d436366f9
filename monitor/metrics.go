package monitor

import "github.com/prometheus/client_golang/prometheus"

// metrics are the controller's own Prometheus collectors (README.md lists
// them); the monitor's and recover's are registered beside them.
type metrics struct {
	triggers  *prometheus.CounterVec
	prepares  *prometheus.CounterVec
	reloads   *prometheus.CounterVec
	watchers  prometheus.Gauge
	leader    prometheus.Gauge
	forwarded prometheus.Counter
	refused   *prometheus.CounterVec
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
		watchers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "understudy_monitor_placement_watchers",
			Help: "Open GET /v1/placements?watch=1 streams.",
		}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "understudy_monitor_leader",
			Help: "1 while this monitor leads (acts on incidents), 0 while it follows.",
		}),
		forwarded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "understudy_monitor_forwarded_total",
			Help: "Mutating API calls this follower forwarded to the leader.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "understudy_monitor_api_refused_total",
			Help: "API calls that change something refused before they ran, by reason (credential: none or a wrong one, 401; content-type: not application/json, 415).",
		}, []string{"reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.triggers, m.prepares, m.reloads, m.watchers, m.leader, m.forwarded, m.refused)
	}
	return m
}
