package contentsync

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// collector exports every service's sync status at each scrape.
type collector struct {
	r       *Runner
	now     func() time.Time
	leading func() bool

	age, maxRPO, exceeded, lastGood, took, bytes, sent, runs, failures *prometheus.Desc
	stagingRemoved                                                     *prometheus.Desc
}

// NewCollector returns the collector of r's statuses (understudy_sync_*).
// A service without a good sync has no age series, but its
// understudy_sync_rpo_exceeded turns 1 once max-rpo has passed since this
// monitor began syncing it. It exports nothing while leading says this
// monitor does not lead (a former leader's statuses are stale; nil:
// always exports).
func NewCollector(r *Runner, leading func() bool) prometheus.Collector {
	if leading == nil {
		leading = func() bool { return true }
	}
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("understudy_sync_"+name, help, []string{"service"}, nil)
	}
	return collector{r: r, now: r.cfg.Clock.Now, leading: leading,
		age:      d("age_seconds", "Age of the standby's copy of the service's content: now minus the start of the last good sync (the service's current RPO)."),
		maxRPO:   d("max_rpo_seconds", "The service's sync.max-rpo."),
		exceeded: d("rpo_exceeded", "1 when the copy is older than max-rpo (or no sync succeeded within max-rpo of this monitor starting to sync it), else 0."),
		lastGood: d("last_success_timestamp_seconds", "When the last good sync began (Unix time)."),
		took:     d("last_duration_seconds", "How long the last good sync took."),
		bytes:    d("last_bytes", "Size of the files in the last good copy."),
		sent:     d("sent_bytes_total", "Bytes read from the primary by syncs (changed files only)."),
		runs:     d("runs_total", "Syncs run (a sync the gate refused before it began is not counted)."),
		failures: d("failures_total", "Syncs that failed or were cancelled; the standby kept its last good copy."),
		stagingRemoved: prometheus.NewDesc("understudy_sync_staging_removed_total",
			"Staging copies of whole-instance syncs that left the inventory, removed from the standby VMs.", nil, nil),
	}
}

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.age, c.maxRPO, c.exceeded, c.lastGood, c.took, c.bytes, c.sent, c.runs, c.failures, c.stagingRemoved} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	if !c.leading() {
		return
	}
	now := c.now()
	ch <- prometheus.MustNewConstMetric(c.stagingRemoved, prometheus.CounterValue, float64(c.r.StagingRemoved()))
	for _, st := range c.r.Statuses() {
		g := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, st.Service)
		}
		n := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, st.Service)
		}
		g(c.maxRPO, st.MaxRPO.Seconds())
		exceeded := 0.0
		if st.Exceeded(now) {
			exceeded = 1
		}
		g(c.exceeded, exceeded)
		if age, ok := st.Age(now); ok {
			g(c.age, age.Seconds())
			g(c.lastGood, float64(st.LastGood.UnixNano())/1e9)
			g(c.took, st.Took.Seconds())
			g(c.bytes, float64(st.Stats.Bytes))
		}
		n(c.sent, float64(st.SentBytes))
		n(c.runs, float64(st.Runs))
		n(c.failures, float64(st.Failures))
	}
}
