package proxy

import "github.com/prometheus/client_golang/prometheus"

// Request outcomes, the values of the outcome label of
// understudy_proxy_requests_total.
const (
	OutcomeForwarded    = "forwarded"     // answered by the backend (any status)
	OutcomeRetried      = "retried"       // answered by a backend after one failed attempt
	OutcomeMisdirected  = "misdirected"   // unknown Host: 421
	OutcomeRejected     = "rejected"      // method the proxy refuses (CONNECT): 405
	OutcomeHoldTimeout  = "hold_timeout"  // held for the whole hold: 503
	OutcomeQueueFull    = "queue_full"    // hold queue full: 503
	OutcomeBackendError = "backend_error" // backend failed and no retry was allowed: 502
	OutcomeCanceled     = "canceled"      // the client went away
	OutcomeStopped      = "stopped"       // the proxy shut down while holding it: 503
	OutcomeBodyTimeout  = "body_timeout"  // reading the client's body timed out (Config.BodyTimeout) or failed: 408
	OutcomeUnavailable  = "unavailable"   // the placement says Unavailable (a stuck or unprotected failover): 503 at once
)

// metrics are the proxy's Prometheus collectors.
type metrics struct {
	requests         *prometheus.CounterVec
	probeRTT         prometheus.Histogram
	probeMisses      *prometheus.CounterVec
	probeCleared     *prometheus.CounterVec
	probeTimeout     *prometheus.GaugeVec
	held             *prometheus.GaugeVec
	heldTotal        *prometheus.CounterVec
	holdSeconds      *prometheus.HistogramVec
	placementChanges *prometheus.CounterVec
	placementHeld    *prometheus.GaugeVec
	monitorConnected prometheus.Gauge
	clientConns      prometheus.Gauge
	suspects         *prometheus.CounterVec
	dialCleared      *prometheus.CounterVec
	reroutes         *prometheus.CounterVec
	rerouted         *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "understudy_proxy_requests_total",
			Help: "Requests by service and outcome.",
		}, []string{"service", "outcome"}),
		probeRTT: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "understudy_proxy_probe_rtt_seconds",
			Help:    "Round-trip time of the per-request ICMP probes that were answered.",
			Buckets: prometheus.ExponentialBuckets(10e-6, 2.5, 10), // 10µs .. ~38ms
		}),
		probeMisses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "understudy_proxy_probe_misses_total",
			Help: "Echoes of the per-request probes that got no answer within their timeout (the first echo's adaptive one, or the confirming echo's probe-timeout).",
		}, []string{"service"}),
		probeCleared: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "understudy_proxy_probe_misses_cleared_total",
			Help: "Probe misses the proxy cleared itself, without a report to the monitor, by what cleared them (probe: the confirming echo was answered; request: the backend answered a request meanwhile; hold: a confirmed miss whose third echo or a response came before the report, held but not reported).",
		}, []string{"service", "by"}),
		probeTimeout: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "understudy_proxy_probe_timeout_seconds",
			Help: "The adaptive timeout of the last probe's first echo (SRTT + 4*RTTVAR between the floor and the service's probe-timeout).",
		}, []string{"service"}),
		held: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "understudy_proxy_held_requests",
			Help: "Requests being held now, waiting for a backend.",
		}, []string{"service"}),
		heldTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "understudy_proxy_held_requests_total",
			Help: "Requests that were held, by why they waited (failover: the monitor's failover runs; move: a migration or failback; suspect: the proxy found the backend down; unplaced: no placement yet); a request is counted once per reason.",
		}, []string{"service", "reason"}),
		holdSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "understudy_proxy_hold_seconds",
			Help:    "Time held requests waited for a backend.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"service"}),
		placementChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "understudy_proxy_placement_changes_total",
			Help: "Backend address changes received from the monitor.",
		}, []string{"service"}),
		placementHeld: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "understudy_proxy_placement_held",
			Help: "1 while the service's placement holds its requests: a migration or failback (held), or a failover (failing_over).",
		}, []string{"service"}),
		monitorConnected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "understudy_proxy_monitor_connected",
			Help: "1 while the placement stream from the monitor is open.",
		}),
		clientConns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "understudy_proxy_client_connections",
			Help: "Client connections open now on the proxy's port (at most the connection cap).",
		}),
		suspects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "understudy_proxy_suspects_total",
			Help: "Backends found down that started a hold, by service and how (probe: a missed per-request probe; connection: a failed connection; move, failover: while the placement holds the service, not reported).",
		}, []string{"service", "by"}),
		dialCleared: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "understudy_proxy_dial_timeouts_cleared_total",
			Help: "Dial timeouts to a backend whose host then answered an echo and whose port accepted a new connection before the report: held, not reported to the monitor (a full accept queue drops SYNs).",
		}, []string{"service"}),
		reroutes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "understudy_proxy_reroutes_total",
			Help: "Times the proxy sent a service's requests to its warm standby container because its own probes could not reach the primary (proxy-reroute: warm).",
		}, []string{"service"}),
		rerouted: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "understudy_proxy_rerouted",
			Help: "1 while the proxy sends the service's requests to its warm standby container instead of the primary.",
		}, []string{"service"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.probeRTT, m.probeMisses, m.probeCleared, m.probeTimeout, m.held, m.heldTotal, m.holdSeconds,
			m.placementChanges, m.placementHeld, m.monitorConnected, m.clientConns, m.suspects, m.dialCleared, m.reroutes, m.rerouted)
	}
	return m
}

// suspectLabel is the by label of understudy_proxy_suspects_total:
// placeHold (move, failover) when the placement holds the service.
func suspectLabel(kind suspectKind, placeHold string) string {
	switch {
	case placeHold != "":
		return placeHold
	case kind == byConnection:
		return "connection"
	}
	return "probe"
}

// initService creates the service's suspect and hold-time series at zero,
// so that they are exported (and rate() works) before the first hold.
func (m *metrics) initService(name string) {
	for _, by := range []string{"probe", "connection", reasonMove, reasonFailover} {
		m.suspects.WithLabelValues(name, by)
	}
	for _, reason := range holdReasons {
		m.heldTotal.WithLabelValues(name, reason)
	}
	for _, by := range []string{"probe", "request", "hold"} {
		m.probeCleared.WithLabelValues(name, by)
	}
	m.dialCleared.WithLabelValues(name)
	m.holdSeconds.WithLabelValues(name)
	m.reroutes.WithLabelValues(name)
	m.rerouted.WithLabelValues(name).Set(0)
}
