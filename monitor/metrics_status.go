package monitor

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/understudy/understudy/internal/tlsfiles"
	"github.com/understudy/understudy/playbooks"
	"github.com/understudy/understudy/recover"
)

// allStates are the states understudy_monitor_service_state enumerates.
var allStates = []recover.State{recover.Primary, recover.Suspect, recover.FailingOver, recover.OnStandby,
	recover.Migrating, recover.OnSpare, recover.FailingBack, recover.Stuck}

// statusCollector exports, at each scrape, what the dashboard and the alert
// rules read from the leader's records: each service's state, whether it is
// unprotected, failed over without a confirmed fence, or moved in DNS
// without every dns.verify server answering (until the leader's recheck,
// dnsrecheck.go, sees them all answer), and whether its standby
// container is prepared. Only the leader exports the per-service series
// (a follower's view is the leader's, and counting both would double it);
// every monitor exports its epoch.
type statusCollector struct {
	c                                              *Controller
	state, unprotected, unfenced, unverified, prep *prometheus.Desc
	epoch                                          *prometheus.Desc
}

func newStatusCollector(c *Controller) statusCollector {
	svc := []string{"service"}
	return statusCollector{c: c,
		state: prometheus.NewDesc("understudy_monitor_service_state",
			"1 for the state the service is in (primary, suspect, failing-over, on-standby, migrating, on-spare, failing-back, stuck), 0 for the others; leader only.",
			[]string{"service", "state"}, nil),
		unprotected: prometheus.NewDesc("understudy_monitor_service_unprotected",
			"1 while a failure of the service would not be recovered: flap damping refuses its failover, or it is stuck; leader only.", svc, nil),
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
func (s statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{s.state, s.unprotected, s.unfenced, s.unverified, s.prep, s.epoch} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (s statusCollector) Collect(ch chan<- prometheus.Metric) {
	if !s.c.running() {
		return
	}
	ch <- prometheus.MustNewConstMetric(s.epoch, prometheus.GaugeValue, float64(s.c.roles.epoch()))
	t := s.c.roles.leading()
	if t == nil {
		return
	}
	p := s.c.plan()
	verify := len(p.Inv.DNS.Verify) > 0
	now := time.Now()
	for _, rec := range t.exec.Records() {
		for _, st := range allStates {
			ch <- prometheus.MustNewConstMetric(s.state, prometheus.GaugeValue, gaugeOf(rec.State == st), rec.Service, st.String())
		}
		g := signalsOf(rec, verify, now)
		g.unverified = g.unverified && !t.dnsCheck.caughtUp(rec)
		ch <- prometheus.MustNewConstMetric(s.unprotected, prometheus.GaugeValue, gaugeOf(g.unprotected), rec.Service)
		ch <- prometheus.MustNewConstMetric(s.unfenced, prometheus.GaugeValue, gaugeOf(g.unfenced), rec.Service)
		ch <- prometheus.MustNewConstMetric(s.unverified, prometheus.GaugeValue, gaugeOf(g.unverified), rec.Service)
		if ps := t.prepare.Get(rec.Service); ps.Skipped == "" && rec.State == recover.Primary {
			ch <- prometheus.MustNewConstMetric(s.prep, prometheus.GaugeValue, gaugeOf(ps.OK), rec.Service, p.Standbys[rec.Service])
		}
	}
}

// signals are the alert conditions of one service record.
type signals struct{ unprotected, unfenced, unverified bool }

// signalsOf derives a record's alert conditions at now; verify says the
// inventory has dns.verify servers.
func signalsOf(rec recover.Record, verify bool, now time.Time) signals {
	g := signals{unprotected: rec.State == recover.Stuck || now.Before(rec.DampedUntil)}
	inc := rec.Incident
	if inc == nil {
		return g
	}
	if rec.State != recover.Primary {
		for _, st := range inc.Steps {
			if st.Kind == playbooks.Fence && st.Status == recover.StatusFailed {
				g.unfenced = true
			}
		}
	}
	if verify {
		pending := false
		for _, ph := range inc.Phases {
			switch ph.Phase {
			case "dns-flipped", "dns-reset":
				pending = true
			case "dns-verified":
				pending = false
			}
		}
		g.unverified = pending
	}
	return g
}

// registerObservability registers the collectors the dashboard and the
// alert rules read beyond the counters: the status collector and the
// certificates this monitor serves and presents.
func (c *Controller) registerObservability() {
	c.reg.MustRegister(newStatusCollector(c), tlsfiles.NewExpiryCollector(c.certFiles))
}

// MustRegister adds collectors to the monitor's /metrics (the command adds
// the drill history's, package drill being above this one); it panics on a
// collector already registered, like prometheus.Registry.MustRegister.
func (c *Controller) MustRegister(cs ...prometheus.Collector) { c.reg.MustRegister(cs...) }

// StateDir is monitor.state-dir of the inventory in force.
func (c *Controller) StateDir() string { return c.plan().Inv.Monitor.StateDir }

// certFiles are the certificates of the inventory in force: the API's
// (served, and presented to peers) and the one presented to the agents.
func (c *Controller) certFiles() []tlsfiles.CertFile {
	m := c.plan().Inv.Monitor
	var out []tlsfiles.CertFile
	if m.APITLS.Cert != "" {
		out = append(out, tlsfiles.CertFile{Role: "monitor-api", Path: m.APITLS.Cert})
	}
	if m.AgentTLS.Cert != "" {
		out = append(out, tlsfiles.CertFile{Role: "monitor-agent-client", Path: m.AgentTLS.Cert})
	}
	return out
}

// gaugeOf is a condition as a gauge's value: 1 or 0.
func gaugeOf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
