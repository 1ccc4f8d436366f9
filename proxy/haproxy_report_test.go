package proxy

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// cmpPhase is one phase of a monitor incident, in ms from its start.
type cmpPhase struct {
	Phase string  `json:"phase"`
	AtMS  float64 `json:"at_ms"`
}

// cmpIncident is the monitor's record of one understudy failover.
type cmpIncident struct {
	State   string     `json:"state"`
	Result  string     `json:"result"`
	TotalMS float64    `json:"total_ms"`
	Phases  []cmpPhase `json:"phases"`
}

// cmpRun is the raw result of one run.
type cmpRun struct {
	Failure        string       `json:"failure"`
	Proxy          string       `json:"proxy"`
	Round          int          `json:"round"`
	Requests       int          `json:"requests"`
	Errors         int          `json:"client_errors"`
	ErrorSamples   []string     `json:"error_samples,omitempty"`
	FromPrimary    int          `json:"from_primary"`
	FromStandby    int          `json:"from_standby"`
	Met            int          `json:"met_failure"`
	FirstStandbyMS float64      `json:"first_standby_answer_ms"`
	MetP99MS       float64      `json:"met_failure_p99_ms"`
	WorstMS        float64      `json:"worst_request_ms"`
	P50MS          float64      `json:"all_p50_ms"`
	P99MS          float64      `json:"all_p99_ms"`
	Incident       *cmpIncident `json:"monitor_incident,omitempty"`
}

// cmpReport is the whole comparison: what bench/results/haproxy.json holds.
type cmpReport struct {
	Date      time.Time `json:"date"`
	Nproc     int       `json:"nproc"`
	LoadStart string    `json:"loadavg_start"`
	LoadEnd   string    `json:"loadavg_end"`
	HAProxy   string    `json:"haproxy"`
	Commit    string    `json:"understudy_commit"`
	Load      string    `json:"load"`
	Runs      []cmpRun  `json:"runs"`

	mu sync.Mutex
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func newCmpReport(haproxy string) *cmpReport {
	return &cmpReport{
		Date: time.Now().UTC(), Nproc: runtime.NumCPU(), LoadStart: loadavg(), HAProxy: haproxyVersion(haproxy),
		Commit: os.Getenv("UNDERSTUDY_COMMIT"),
		Load:   "10 concurrent clients sending GET, at most 4000 requests or 6 s per run, the failure injected 500 ms in",
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (r *cmpReport) add(failure, proxy string, round int, st loadStats, inc *cmpIncident) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Runs = append(r.Runs, cmpRun{
		Failure: failure, Proxy: proxy, Round: round, Requests: st.requests, Errors: st.failed, ErrorSamples: st.errors,
		FromPrimary: st.fromPrimary, FromStandby: st.fromStandby, Met: st.met,
		FirstStandbyMS: ms(st.firstStandby), MetP99MS: ms(st.metP99), WorstMS: ms(st.max),
		P50MS: ms(st.p50), P99MS: ms(st.p99), Incident: inc,
	})
}

// log writes the run table to the test log.
func (r *cmpReport) log(t *testing.T) {
	for _, line := range strings.Split(r.runTable(), "\n") {
		t.Log(line)
	}
}

func (r *cmpReport) runTable() string {
	var b strings.Builder
	b.WriteString("| failure | round | proxy | requests | client errors | first answer from the standby | p99 of the requests that met the failure | worst request | monitor incident |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, x := range r.Runs {
		inc := ""
		if x.Incident != nil {
			inc = fmt.Sprintf("%s in %.0f ms", x.Incident.Result, x.Incident.TotalMS)
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %d | %d | %s | %.0f ms | %.0f ms | %s |\n", x.Failure, x.Round, x.Proxy,
			x.Requests, x.Errors, firstStandby(x), x.MetP99MS, x.WorstMS, inc)
	}
	return strings.TrimRight(b.String(), "\n")
}

// firstStandby renders a run's first standby answer: none when its
// clients got no answer from the standby before the run ended.
func firstStandby(x cmpRun) string {
	if x.FromStandby == 0 {
		return "none in the run"
	}
	return fmt.Sprintf("%.0f ms", x.FirstStandbyMS)
}

// group is the runs of one failure and proxy.
func (r *cmpReport) group(failure, proxy string) []cmpRun {
	var out []cmpRun
	for _, x := range r.Runs {
		if x.Failure == failure && x.Proxy == proxy {
			out = append(out, x)
		}
	}
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func field(runs []cmpRun, f func(cmpRun) float64) []float64 {
	out := make([]float64, len(runs))
	for i, x := range runs {
		out[i] = f(x)
	}
	return out
}

// verdicts compares the two proxies per failure, in words, from the
// medians: where understudy is slower, it says so.
func (r *cmpReport) verdicts() []string {
	var out []string
	for _, f := range failures {
		u, h := r.group(f.name, "understudy"), r.group(f.name, "haproxy")
		if len(u) == 0 || len(h) == 0 {
			continue
		}
		ue := field(u, func(x cmpRun) float64 { return float64(x.Errors) })
		he := field(h, func(x cmpRun) float64 { return float64(x.Errors) })
		out = append(out, fmt.Sprintf("%s, client errors: understudy %v, HAProxy %v.", f.name, ue, he))
		for _, m := range []struct {
			name string
			f    func(cmpRun) float64
		}{
			// A run without a standby answer counts as the whole run.
			{"first answer from the standby", func(x cmpRun) float64 {
				if x.FromStandby == 0 {
					return math.Inf(1)
				}
				return x.FirstStandbyMS
			}},
			{"worst request", func(x cmpRun) float64 { return x.WorstMS }},
		} {
			um, hm := median(field(u, m.f)), median(field(h, m.f))
			word := "faster"
			if um >= hm {
				word = "SLOWER"
			}
			out = append(out, fmt.Sprintf("%s, %s: understudy %s (median %s against %s for HAProxy).", f.name, m.name, word, msOrNone(um), msOrNone(hm)))
		}
	}
	return out
}

// write writes base.json (raw) and base.md (summary).
func (r *cmpReport) write(base string) error {
	r.LoadEnd = loadavg()
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	if err := os.WriteFile(base+".json", append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# HAProxy next to understudy\n\nWritten by `bench/haproxy.sh` (`TestIntegrationHAProxyComparison`); raw results in `haproxy.json`.\n\n")
	fmt.Fprintf(&b, "- date: %s\n- nproc: %d\n- load average: %s at the start, %s at the end\n- %s\n- understudy: %s (the built binary: agent, monitor and proxy)\n- load: %s\n\n",
		r.Date.Format(time.RFC3339), r.Nproc, r.LoadStart, r.LoadEnd, r.HAProxy, orUnknown(r.Commit), r.Load)
	b.WriteString("Runs in the order they ran (HAProxy and understudy alternate). Client errors are non-2xx answers and transport errors. ")
	b.WriteString("The monitor incident is the real monitor's failover record (suspect report or its own check, confirmation, fence, activation, DNS).\n\n")
	b.WriteString(r.runTable())
	b.WriteString("\n\n## Per failure\n\n")
	for _, v := range r.verdicts() {
		b.WriteString("- " + v + "\n")
	}
	return os.WriteFile(base+".md", []byte(b.String()), 0o644)
}

func msOrNone(v float64) string {
	if math.IsInf(v, 1) {
		return "none in the run"
	}
	return fmt.Sprintf("%.0f ms", v)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown commit"
	}
	return s
}
