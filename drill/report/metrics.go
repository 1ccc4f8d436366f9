package report

import (
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/understudy/understudy/drill"
)

// HistoryCollector exports the latest drill of each service and fault kind
// in a history file (Trend's verdict on it): whether it regressed, its
// recovery time and when it ran. It reads the file again only when its size
// or modification time changed; a missing or unreadable history has no
// series.
type HistoryCollector struct {
	path                        func() string
	regression, recovery, ranAt *prometheus.Desc

	mu    sync.Mutex
	key   historyKey
	rows  []TrendRow
	valid bool
}

// historyKey tells whether the history file changed since it was read.
type historyKey struct {
	path  string
	size  int64
	mtime time.Time
}

// NewHistoryCollector returns a collector of the history file path returns
// at each scrape (the monitor's state directory follows reloads).
func NewHistoryCollector(path func() string) *HistoryCollector {
	l := []string{"service", "inject"}
	return &HistoryCollector{path: path,
		regression: prometheus.NewDesc("understudy_drill_regression",
			"1 when the latest drill of the service and fault kind regressed (recovery over 1.5 × the median of the 5 before, or no recovery where they recovered), else 0.", l, nil),
		recovery: prometheus.NewDesc("understudy_drill_last_recovery_seconds",
			"Recovery time of the latest drill of the service and fault kind; no series when it did not recover.", l, nil),
		ranAt: prometheus.NewDesc("understudy_drill_last_run_timestamp_seconds",
			"When the latest drill of the service and fault kind was injected, as a Unix time.", l, nil),
	}
}

// Describe implements prometheus.Collector.
func (h *HistoryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- h.regression
	ch <- h.recovery
	ch <- h.ranAt
}

// Collect implements prometheus.Collector.
func (h *HistoryCollector) Collect(ch chan<- prometheus.Metric) {
	for _, r := range latest(h.trend()) {
		svc, inj := r.Service, string(r.Inject)
		v := 0.0
		if r.Regression != "" {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(h.regression, prometheus.GaugeValue, v, svc, inj)
		if r.RecoveryMS != nil {
			ch <- prometheus.MustNewConstMetric(h.recovery, prometheus.GaugeValue, float64(*r.RecoveryMS)/1000, svc, inj)
		}
		ch <- prometheus.MustNewConstMetric(h.ranAt, prometheus.GaugeValue, float64(r.Started.UnixNano())/1e9, svc, inj)
	}
}

// trend returns the history's trend, read again when the file changed.
func (h *HistoryCollector) trend() []TrendRow {
	p := h.path()
	st, err := os.Stat(p)
	if err != nil {
		return nil
	}
	k := historyKey{path: p, size: st.Size(), mtime: st.ModTime()}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.valid && h.key == k {
		return h.rows
	}
	hist, err := ReadHistory(p)
	if err != nil {
		return nil
	}
	h.key, h.rows, h.valid = k, Trend(hist), true
	return h.rows
}

// latest keeps the last row of each service and fault kind, in the order
// they first appear.
func latest(rows []TrendRow) []TrendRow {
	type key struct {
		service string
		inject  drill.Kind
	}
	at := map[key]int{}
	var out []TrendRow
	for _, r := range rows {
		k := key{r.Service, r.Inject}
		if i, ok := at[k]; ok {
			out[i] = r
			continue
		}
		at[k] = len(out)
		out = append(out, r)
	}
	return out
}

// stateDirer is what NewMonitorHistoryCollector needs of a monitor: its
// monitor.state-dir in force (*monitor.Controller has it).
type stateDirer interface{ StateDir() string }

// NewMonitorHistoryCollector is the history collector of a monitor: the
// drill history under its state directory, followed across reloads. The
// monitor command and the lab tests register this one.
func NewMonitorHistoryCollector(m stateDirer) *HistoryCollector {
	return NewHistoryCollector(func() string { return HistoryPath(m.StateDir()) })
}
