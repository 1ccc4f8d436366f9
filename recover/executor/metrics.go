package executor

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/understudy/understudy/recover"
)

// Metrics are the executor's Prometheus metrics.
type Metrics struct {
	incidents *prometheus.CounterVec
	failovers *prometheus.CounterVec
	phase     *prometheus.HistogramVec
	recovery  prometheus.Histogram
	moves     *prometheus.HistogramVec
	verify    *prometheus.CounterVec
	stops     *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		incidents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "understudy_recover_incidents_total",
			Help: "Incidents by how they ended: recovered, disagreement, reset, stuck (counted when they stick), damped (refused triggers), migrated, failed-back, aborted.",
		}, []string{"result"}),
		failovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "understudy_recover_failovers_total",
			Help: "Failovers completed (incidents recovered onto the standby), by service.",
		}, []string{"service"}),
		phase: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "understudy_recover_phase_seconds",
			Help:    "Duration of each playbook step, from its first attempt to its end.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"phase"}),
		recovery: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "understudy_recover_recovery_seconds",
			Help:    "Time from detection to on-standby for recovered incidents.",
			Buckets: []float64{.1, .25, .5, .75, 1, 1.5, 2, 3, 5, 10, 30, 60, 120},
		}),
		moves: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "understudy_recover_move_seconds",
			Help:    "Duration of completed migrations and failbacks, from request to close.",
			Buckets: []float64{.25, .5, 1, 2, 5, 10, 20, 30, 60, 120, 300},
		}, []string{"kind"}),
		verify: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "understudy_recover_dns_verify_failures_total",
			Help: "dns-replace steps after which a dns.verify server did not answer the new address within the step's timeout, by server.",
		}, []string{"server"}),
		stops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "understudy_recover_fence_stops_total",
			Help: "Background force-stops of primaries the fence froze, after the DNS flip, by result: ok, failed (the primary stays frozen).",
		}, []string{"result"}),
	}
	if reg != nil {
		reg.MustRegister(m.incidents, m.failovers, m.phase, m.recovery, m.moves, m.verify, m.stops)
	}
	m.initSeries()
	return m
}

// initSeries creates the series of the known results and move kinds at
// zero, so that they are exported (and rate() works) before the first.
func (m *Metrics) initSeries() {
	for _, r := range []string{recover.ResultRecovered, recover.ResultDisagreement, recover.ResultReset, recover.ResultMigrated, recover.ResultFailedBack, recover.ResultAborted, "stuck", "damped"} {
		m.incidents.WithLabelValues(r)
	}
	for _, r := range []string{"ok", "failed"} {
		m.stops.WithLabelValues(r)
	}
	for _, k := range []string{recover.KindMigrate, recover.KindFailback} {
		m.moves.WithLabelValues(k)
	}
}

// knowServices creates the failover series of services at zero, so that
// increase() over them counts a service's first failover too.
func (m *Metrics) knowServices(services map[string]recover.Config) {
	if m == nil {
		return
	}
	for name := range services {
		m.failovers.WithLabelValues(name)
	}
}

// dnsVerifyFailed counts a dns.verify server that did not converge.
func (m *Metrics) dnsVerifyFailed(server string) {
	if m != nil {
		m.verify.WithLabelValues(server).Inc()
	}
}

// fenceStopped counts a background force-stop of a frozen primary.
func (m *Metrics) fenceStopped(ok bool) {
	if m == nil {
		return
	}
	r := "failed"
	if ok {
		r = "ok"
	}
	m.stops.WithLabelValues(r).Inc()
}

// observe records what changed between two records of one service.
func (m *Metrics) observe(before, after recover.Record, damped bool) {
	if m == nil {
		return
	}
	if damped {
		m.incidents.WithLabelValues("damped").Inc()
	}
	inc := after.Incident
	if inc == nil {
		return
	}
	var prev *recover.Incident
	if before.Incident != nil && before.Incident.ID == inc.ID {
		prev = before.Incident
	}
	for i, s := range inc.Steps {
		if s.Finished.IsZero() || s.Started.IsZero() || (prev != nil && prev.Steps[i].Finished.Equal(s.Finished)) {
			continue
		}
		m.phase.WithLabelValues(string(s.Kind)).Observe(s.Finished.Sub(s.Started).Seconds())
	}
	if after.State == recover.Stuck && before.State != recover.Stuck {
		m.incidents.WithLabelValues("stuck").Inc()
	}
	if !inc.Open() && (prev == nil || prev.Open()) {
		m.incidents.WithLabelValues(inc.Result).Inc()
		switch inc.Result {
		case recover.ResultRecovered:
			m.failovers.WithLabelValues(after.Service).Inc()
			m.recovery.Observe(inc.Closed.Sub(inc.Opened).Seconds())
		case recover.ResultMigrated, recover.ResultFailedBack:
			m.moves.WithLabelValues(inc.Kind).Observe(inc.Closed.Sub(inc.Opened).Seconds())
		}
	}
}
