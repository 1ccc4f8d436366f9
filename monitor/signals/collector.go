package signals

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/understudy/understudy/internal/clock"
	"github.com/understudy/understudy/monitor/prepare"
	"github.com/understudy/understudy/recover"
)

// allStates are the states understudy_monitor_service_state enumerates.
var allStates = []recover.State{recover.Primary, recover.Suspect, recover.FailingOver, recover.OnStandby,
	recover.Migrating, recover.OnSpare, recover.FailingBack, recover.Stuck}

// Source is what the collector reads of the daemon at each scrape. Safe
// for concurrent use.
type Source interface {
	// Running reports whether the daemon serves (nothing is exported before).
	Running() bool
	// Epoch is this monitor's epoch while it leads, else the leader's as
	// last observed (0 when unknown).
	Epoch() uint64
	// Leading returns the term in force, nil while this monitor follows.
	Leading() Term
	// Verify reports whether the inventory has dns.verify servers.
	Verify() bool
	// Standby is the standby VM of a service.
	Standby(service string) string
}

// Term is what the collector reads of the term in force.
type Term interface {
	Records() []recover.Record
	// Prepared is the preparer's state of a service's standby container.
	Prepared(service string) prepare.State
	// CaughtUp reports whether the term's Rechecker saw every dns.verify
	// server answer the record's last DNS change.
	CaughtUp(rec recover.Record) bool
}

// Collector exports, at each scrape, what the dashboard and the alert
// rules read from the leader's records: each service's state, whether it is
// unprotected, failed over without a confirmed fence, or moved in DNS
// without every dns.verify server answering (until the leader's Rechecker
// sees them all answer), and whether its standby container is prepared.
// Only the leader exports the per-service series (a follower's view is the
// leader's, and counting both would double it); every monitor exports its
// epoch.
type Collector struct {
	src                                            Source
	clock                                          clock.Clock
	state, unprotected, unfenced, unverified, prep *prometheus.Desc
	noCapacity                                     *prometheus.Desc
	epoch                                          *prometheus.Desc
}

// NewCollector returns the collector of src, judging damping by clk (nil:
// clock.Wall).
func NewCollector(src Source, clk clock.Clock) *Collector {
	if clk == nil {
		clk = clock.Wall
	}
	svc := []string{"service"}
	return &Collector{src: src, clock: clk,
		state: prometheus.NewDesc("understudy_monitor_service_state",
			"1 for the state the service is in (primary, suspect, failing-over, on-standby, migrating, on-spare, failing-back, stuck), 0 for the others; leader only.",
			[]string{"service", "state"}, nil),
		unprotected: prometheus.NewDesc("understudy_monitor_service_unprotected",
			"1 while a failure of the service would not be recovered: flap damping refuses its failover, or it is stuck; leader only.", svc, nil),
		noCapacity: prometheus.NewDesc("understudy_monitor_service_unprotected_no_capacity",
			"1 while the service's failover waits for room on its standby, which refused it for capacity (the status shows how much it needs and how much is free); it is recovered, by priority, when capacity frees; leader only.",
			[]string{"service", "standby"}, nil),
		unfenced: prometheus.NewDesc("understudy_monitor_service_fence_unconfirmed",
			"1 while the service runs away from its primary after a fence step that failed (fence-required false): two copies may be live; leader only.", svc, nil),
		unverified: prometheus.NewDesc("understudy_monitor_service_dns_unverified",
			"1 when the service's last DNS change was not answered by every dns.verify server within the step's timeout, until the leader's recheck (every 30 s) sees them all answer it; leader only.", svc, nil),
		prep: prometheus.NewDesc("understudy_monitor_standby_prepared",
			"1 when the service's container on its standby agent is prepared, 0 while preparing it fails or has not succeeded yet; leader only, services on their primary.",
			[]string{"service", "standby"}, nil),
		epoch: prometheus.NewDesc("understudy_monitor_leader_epoch",
			"The fencing epoch: this monitor's while it leads, else the leader's as last observed (0 when unknown).", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (s *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{s.state, s.unprotected, s.noCapacity, s.unfenced, s.unverified, s.prep, s.epoch} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (s *Collector) Collect(ch chan<- prometheus.Metric) {
	if !s.src.Running() {
		return
	}
	ch <- prometheus.MustNewConstMetric(s.epoch, prometheus.GaugeValue, float64(s.src.Epoch()))
	t := s.src.Leading()
	if t == nil {
		return
	}
	verify := s.src.Verify()
	now := s.clock.Now()
	for _, rec := range t.Records() {
		for _, st := range allStates {
			ch <- prometheus.MustNewConstMetric(s.state, prometheus.GaugeValue, gaugeOf(rec.State == st), rec.Service, st.String())
		}
		g := Of(rec, verify, now)
		g.Unverified = g.Unverified && !t.CaughtUp(rec)
		ch <- prometheus.MustNewConstMetric(s.unprotected, prometheus.GaugeValue, gaugeOf(g.Unprotected), rec.Service)
		ch <- prometheus.MustNewConstMetric(s.noCapacity, prometheus.GaugeValue, gaugeOf(g.NoCapacity), rec.Service, s.src.Standby(rec.Service))
		ch <- prometheus.MustNewConstMetric(s.unfenced, prometheus.GaugeValue, gaugeOf(g.Unfenced), rec.Service)
		ch <- prometheus.MustNewConstMetric(s.unverified, prometheus.GaugeValue, gaugeOf(g.Unverified), rec.Service)
		if ps := t.Prepared(rec.Service); ps.Skipped == "" && rec.State == recover.Primary {
			ch <- prometheus.MustNewConstMetric(s.prep, prometheus.GaugeValue, gaugeOf(ps.OK), rec.Service, s.src.Standby(rec.Service))
		}
	}
}

// gaugeOf is a condition as a gauge's value: 1 or 0.
func gaugeOf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
