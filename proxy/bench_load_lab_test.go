package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/understudy/understudy/internal/icmp"
	"github.com/understudy/understudy/internal/labtest"
)

// This file compiles against the proxy of any revision since the probe
// bench (bench/proxy-probe.sh load copies it into a checkout of the
// revision it measures BEFORE): it reads the proxy's figures from its
// metrics by name, and a metric a revision lacks reads as absent.

// loadSide is one wrk run through one front end.
type loadSide struct {
	RPS       float64 `json:"requests_per_second"`
	Requests  int     `json:"requests"`
	Non2xx    int     `json:"non_2xx"`
	SocketErr int     `json:"socket_errors"`
}

// loadPair is one plain run and one understudy run, back to back.
type loadPair struct {
	First      string   `json:"first"` // which front end ran first in this pair
	Plain      loadSide `json:"plain"`
	Understudy loadSide `json:"understudy"`
	Ratio      float64  `json:"ratio"` // understudy RPS / plain RPS
}

// loadReport is what bench/results/proxyload-LABEL.json holds.
type loadReport struct {
	Label     string     `json:"label"`
	Commit    string     `json:"commit"`
	Date      time.Time  `json:"date"`
	Nproc     int        `json:"nproc"`
	LoadStart string     `json:"loadavg_start"`
	LoadEnd   string     `json:"loadavg_end"`
	Target    string     `json:"target"`
	Load      string     `json:"load"`
	Pairs     []loadPair `json:"pairs"`
	// The understudy proxy's counters over all its runs; a nil pointer:
	// the revision has no such metric.
	ReportsToMonitor int                 `json:"suspect_reports_to_monitor"`
	Counters         map[string]*float64 `json:"counters"`
	// The probe decision on the request path (benchProbeDecision).
	DecisionNsOp         float64 `json:"decision_ns_per_op"`
	DecisionParallelNsOp float64 `json:"decision_parallel_ns_per_op"`
}

// The counters the report keeps, by metric name (summed over labels).
var loadCounters = []string{
	"understudy_proxy_suspects_total",
	"understudy_proxy_hold_seconds", // its sample count: requests held
	"understudy_proxy_probe_misses_total",
	"understudy_proxy_probe_misses_cleared_total",
	"understudy_proxy_probe_rtt_seconds", // its sample count: echoes answered
}

// BenchmarkProxyLoadLab saturates the proxy with wrk (-t2 -c10) against
// its lab container (t-proxy-probe, 10.200.0.180), in PROXY_LOAD_PAIRS
// (default 6) alternating pairs of PROXY_LOAD_SECONDS (default 10 s) runs:
// a plain httputil.ReverseProxy, then this proxy with the ICMP probe (the
// order swapped every other pair). The backend never fails, so every
// suspect, hold and report is a false alarm. With
// UNDERSTUDY_BENCH_RESULTS=dir it writes dir/proxyload-LABEL.json
// (PROXY_LOAD_LABEL, default "after"); the "after" run also writes
// dir/proxyload.json and dir/proxyload.md with the "before" run beside
// it when dir/proxyload-before.json exists. Run it with -benchtime 1x.
func BenchmarkProxyLoadLab(b *testing.B) {
	lab := labtest.Require(b)
	wrk := labtest.Tool(b, "wrk", "apt-get install -y wrk")
	pinger, err := icmp.New()
	if err != nil {
		labtest.Skip(b, "the probe needs a raw ICMP socket (root): %v", err)
	}
	b.Cleanup(func() { pinger.Close() })
	pairs, secs := envInt("PROXY_LOAD_PAIRS", 6), envInt("PROXY_LOAD_SECONDS", 10)
	label := orDefault(os.Getenv("PROXY_LOAD_LABEL"), "after")
	rep := &loadReport{Label: label, Commit: os.Getenv("UNDERSTUDY_COMMIT"), Date: time.Now().UTC(), Nproc: runtime.NumCPU(),
		Target: probeLabName + " at " + probeLabAddr + " (busybox httpd on host-a)",
		Load:   fmt.Sprintf("wrk -t2 -c10 -d%ds, %d alternating pairs (plain httputil.ReverseProxy, understudy proxy with the ICMP probe)", secs, pairs),
	}
	rep.DecisionNsOp, rep.DecisionParallelNsOp = timeProbeDecision(b, 1, 2_000_000), timeProbeDecision(b, 10*runtime.GOMAXPROCS(0), 200_000)

	labContainer(b, lab.HostA, lab.Image, probeLabName, probeLabAddr)
	ap := netip.AddrPortFrom(netip.MustParseAddr(probeLabAddr), 80)
	reg := prometheus.NewRegistry()
	mon := newFakeMonitor(Placement{Service: "web", Address: ap.Addr(), Epoch: 1})
	p, err := New(Config{Services: []Service{{Name: "web", Host: "web.test", Port: 80}}},
		Options{Monitor: mon, Pinger: pinger, Registerer: reg, Logger: discardLogger()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	for s, _ := p.byName["web"].current(); s == nil; s, _ = p.byName["web"].current() {
		time.Sleep(time.Millisecond)
	}
	plain := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: ap.String()})
	plain.Transport = &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second}
	plain.ErrorLog = log.New(io.Discard, "", 0) // wrk ending its connections cancels requests
	fronts := map[string]*httptest.Server{"plain": httptest.NewServer(plain), "understudy": httptest.NewServer(p)}
	for _, f := range fronts {
		defer f.Close()
	}
	rep.LoadStart = loadavg()
	for range b.N { // one schedule per iteration; -benchtime 1x
		for i := range pairs {
			order := []string{"plain", "understudy"}
			if i%2 == 1 {
				slices.Reverse(order)
			}
			pr := loadPair{First: order[0]}
			for _, name := range order {
				side, err := runWrk(ctx, wrk, fronts[name].URL, secs)
				if err != nil {
					b.Fatalf("pair %d, %s: %v", i+1, name, err)
				}
				if name == "plain" {
					pr.Plain = side
				} else {
					pr.Understudy = side
				}
			}
			if pr.Plain.RPS > 0 {
				pr.Ratio = pr.Understudy.RPS / pr.Plain.RPS
			}
			b.Logf("pair %d: plain %.0f/s, understudy %.0f/s, ratio %.3f", i+1, pr.Plain.RPS, pr.Understudy.RPS, pr.Ratio)
			rep.Pairs = append(rep.Pairs, pr)
		}
	}
	rep.LoadEnd = loadavg()
	rep.ReportsToMonitor = len(mon.reported())
	rep.Counters = gatherCounters(b, reg, loadCounters)
	ratios := make([]float64, len(rep.Pairs))
	for i, pr := range rep.Pairs {
		ratios[i] = pr.Ratio
	}
	b.ReportMetric(median(ratios), "ratio-median")
	b.ReportMetric(float64(rep.ReportsToMonitor), "false-reports")
	b.ReportMetric(deref(rep.Counters["understudy_proxy_suspects_total"]), "false-holds")
	b.ReportMetric(rep.DecisionNsOp, "decision-ns/op")
	if dir := os.Getenv("UNDERSTUDY_BENCH_RESULTS"); dir != "" {
		if err := rep.write(dir); err != nil {
			b.Errorf("write the results: %v", err)
		}
	}
}

// timeProbeDecision times what the probe adds to a GET on the request
// path while the backend is healthy, n times in each of g goroutines at
// once, and returns the wall time per call divided by g (ns): the probe
// decision (probeBehind: join, reuse or start the background probe) and,
// where the revision has it, the record of the response that clears a
// miss. (testing.Benchmark cannot run inside a benchmark: it waits for the
// lock the running one holds.)
func timeProbeDecision(b *testing.B, g, n int) float64 {
	p, s, be := decisionRig(b)
	ev, _ := any(be).(interface{ sawResponse() })
	var wg sync.WaitGroup
	start := time.Now()
	for range g {
		wg.Go(func() {
			for range n {
				p.probeBehind(s, be)
				if ev != nil {
					ev.sawResponse()
				}
			}
		})
	}
	wg.Wait()
	return float64(time.Since(start).Nanoseconds()) / float64(g*n)
}

// decisionRig is a proxy with an instant fake pinger, not running (the
// decision needs no placement stream), and its one backend.
func decisionRig(b *testing.B) (*Proxy, *service, *backend) {
	ap := netip.MustParseAddrPort("127.0.0.2:80")
	p, err := New(Config{Services: []Service{{Name: "web", Host: "web.test", Port: 80}}},
		Options{Monitor: newFakeMonitor(), Pinger: newFakePinger(), Registerer: prometheus.NewRegistry(), Logger: discardLogger()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.stop)
	s := p.byName["web"]
	s.setPlacement(Placement{Service: "web", Address: ap.Addr(), Epoch: 1})
	be, _ := s.current()
	return p, s, be
}

// wrk's summary lines.
var (
	wrkRPS     = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkTotal   = regexp.MustCompile(`(\d+) requests in`)
	wrkNon2xx  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkSockErr = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// runWrk runs wrk -t2 -c10 for secs against front with Host web.test.
func runWrk(ctx context.Context, wrk, front string, secs int) (loadSide, error) {
	out, err := exec.CommandContext(ctx, wrk, "-t2", "-c10", fmt.Sprintf("-d%ds", secs), "-H", "Host: web.test", front+"/").CombinedOutput()
	if err != nil {
		return loadSide{}, fmt.Errorf("run wrk: %w: %s", err, out)
	}
	s := string(out)
	m := wrkRPS.FindStringSubmatch(s)
	if m == nil {
		return loadSide{}, fmt.Errorf("no Requests/sec in wrk's output: %s", s)
	}
	var side loadSide
	side.RPS, _ = strconv.ParseFloat(m[1], 64)
	if m := wrkTotal.FindStringSubmatch(s); m != nil {
		side.Requests, _ = strconv.Atoi(m[1])
	}
	if m := wrkNon2xx.FindStringSubmatch(s); m != nil {
		side.Non2xx, _ = strconv.Atoi(m[1])
	}
	if m := wrkSockErr.FindStringSubmatch(s); m != nil {
		for _, x := range m[1:] {
			n, _ := strconv.Atoi(x)
			side.SocketErr += n
		}
	}
	return side, nil
}

// gatherCounters sums each named metric over its labels (a histogram: its
// sample count); a metric reg does not have stays nil.
func gatherCounters(b *testing.B, reg *prometheus.Registry, names []string) map[string]*float64 {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatalf("gather the proxy's metrics: %v", err)
	}
	out := map[string]*float64{}
	for _, n := range names {
		out[n] = nil
	}
	for _, mf := range mfs {
		if _, want := out[mf.GetName()]; !want {
			continue
		}
		var sum float64
		for _, m := range mf.GetMetric() {
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Histogram != nil:
				sum += float64(m.Histogram.GetSampleCount())
			}
		}
		out[mf.GetName()] = &sum
	}
	return out
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// write writes dir/proxyload-LABEL.json and, for the "after" run, the
// side-by-side dir/proxyload.{json,md}.
func (r *loadReport) write(dir string) error {
	if err := writeJSON(filepath.Join(dir, "proxyload-"+r.Label+".json"), r); err != nil {
		return err
	}
	if r.Label != "after" {
		return nil
	}
	runs := []*loadReport{}
	if raw, err := os.ReadFile(filepath.Join(dir, "proxyload-before.json")); err == nil {
		var before loadReport
		if err := json.Unmarshal(raw, &before); err != nil {
			return fmt.Errorf("read proxyload-before.json: %w", err)
		}
		runs = append(runs, &before)
	}
	runs = append(runs, r)
	if err := writeJSON(filepath.Join(dir, "proxyload.json"), runs); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "proxyload.md"), []byte(loadMarkdown(runs)), 0o644)
}

func writeJSON(path string, v any) error {
	raw, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	if err := os.WriteFile(path, append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}

// loadMarkdown is the side-by-side summary of the runs.
func loadMarkdown(runs []*loadReport) string {
	var b strings.Builder
	b.WriteString("# The proxy under wrk saturation, before and after\n\n")
	b.WriteString("Written by `bash bench/run.sh proxyload` (`bench/proxy-probe.sh load`, `BenchmarkProxyLoadLab`); " +
		"raw results in `proxyload.json` (and `proxyload-before.json`, `proxyload-after.json`). " +
		"The backend never fails: every suspect, hold and report is a false alarm.\n\n")
	b.WriteString("| | ")
	for _, r := range runs {
		fmt.Fprintf(&b, "%s | ", r.Label)
	}
	b.WriteString("\n|---|")
	for range runs {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	row := func(what string, f func(*loadReport) string) {
		fmt.Fprintf(&b, "| %s | ", what)
		for _, r := range runs {
			fmt.Fprintf(&b, "%s | ", f(r))
		}
		b.WriteString("\n")
	}
	row("commit", func(r *loadReport) string { return "`" + orDefault(r.Commit, "?") + "`" })
	row("date", func(r *loadReport) string { return r.Date.Format(time.RFC3339) })
	row("nproc, load average start → end", func(r *loadReport) string {
		return fmt.Sprintf("%d, %s → %s", r.Nproc, r.LoadStart, r.LoadEnd)
	})
	row("load", func(r *loadReport) string { return r.Load })
	row("throughput ratio to plain, median (min–max)", func(r *loadReport) string {
		return spread(r, func(p loadPair) float64 { return p.Ratio }, "%.3f")
	})
	row("plain requests/s, median (min–max)", func(r *loadReport) string {
		return spread(r, func(p loadPair) float64 { return p.Plain.RPS }, "%.0f")
	})
	row("understudy requests/s, median (min–max)", func(r *loadReport) string {
		return spread(r, func(p loadPair) float64 { return p.Understudy.RPS }, "%.0f")
	})
	row("false suspect reports to the monitor", func(r *loadReport) string { return strconv.Itoa(r.ReportsToMonitor) })
	counter := func(what, name string) {
		row(what, func(r *loadReport) string {
			if v := r.Counters[name]; v != nil {
				return strconv.FormatFloat(*v, 'f', -1, 64)
			}
			return "(no such metric)"
		})
	}
	counter("false holds (`suspects_total`)", "understudy_proxy_suspects_total")
	counter("requests held (`hold_seconds` count)", "understudy_proxy_hold_seconds")
	counter("echoes answered (`probe_rtt_seconds` count)", "understudy_proxy_probe_rtt_seconds")
	counter("echoes missed (`probe_misses_total`)", "understudy_proxy_probe_misses_total")
	counter("misses cleared (`probe_misses_cleared_total`)", "understudy_proxy_probe_misses_cleared_total")
	row("client errors, plain / understudy (non-2xx + socket errors)", func(r *loadReport) string {
		var pl, us int
		for _, p := range r.Pairs {
			pl += p.Plain.Non2xx + p.Plain.SocketErr
			us += p.Understudy.Non2xx + p.Understudy.SocketErr
		}
		return fmt.Sprintf("%d / %d", pl, us)
	})
	row("probe decision on the request path, ns per call (wall time per call with 10 goroutines per core)", func(r *loadReport) string {
		return fmt.Sprintf("%.0f (%.0f)", r.DecisionNsOp, r.DecisionParallelNsOp)
	})
	b.WriteString("\nPairs (understudy / plain requests per second):\n\n| pair | first | ")
	for _, r := range runs {
		fmt.Fprintf(&b, "%s | ", r.Label)
	}
	b.WriteString("\n|---|---|")
	for range runs {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for i := range runs[len(runs)-1].Pairs {
		fmt.Fprintf(&b, "| %d | %s | ", i+1, runs[len(runs)-1].Pairs[i].First)
		for _, r := range runs {
			if i < len(r.Pairs) {
				p := r.Pairs[i]
				fmt.Fprintf(&b, "%.0f / %.0f = %.3f | ", p.Understudy.RPS, p.Plain.RPS, p.Ratio)
			} else {
				b.WriteString(" | ")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// spread formats the median (min–max) of f over r's pairs.
func spread(r *loadReport, f func(loadPair) float64, format string) string {
	xs := make([]float64, len(r.Pairs))
	for i, p := range r.Pairs {
		xs[i] = f(p)
	}
	if len(xs) == 0 {
		return "-"
	}
	return fmt.Sprintf(format+" ("+format+"–"+format+")", median(xs), slices.Min(xs), slices.Max(xs))
}
