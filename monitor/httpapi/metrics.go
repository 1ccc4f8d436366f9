package httpapi

import "github.com/prometheus/client_golang/prometheus"

// metrics are the API's own collectors (monitor/README.md lists them; the
// names carry the daemon's understudy_monitor_ prefix).
type metrics struct {
	watchers  prometheus.Gauge
	forwarded prometheus.Counter
	refused   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		watchers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "understudy_monitor_placement_watchers",
			Help: "Open GET /v1/placements?watch=1 streams.",
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
		reg.MustRegister(m.watchers, m.forwarded, m.refused)
	}
	return m
}
