package drill_test

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/understudy/understudy/drill"
	"github.com/understudy/understudy/drill/report"
)

// faultKinds are the five inject kinds of the fault table; host-down last,
// since it cuts every primary of host-a.
var faultKinds = []drill.Kind{drill.VMStop, drill.ServiceStop, drill.Blackhole, drill.VMFreeze, drill.HostDown}

// BenchmarkFaultTable is the drill table of `bash bench/run.sh faults`
// (bench/results/faults.md): every inject kind against one service of one
// mode, FAULTS_RUNS times (default 1), numbered from FAULTS_FIRST (default
// 1, so a long table runs in parts), in a world of its own (.190-.194)
// whose services have fence-method FAULTS_METHOD (freeze or stop; default
// the inventory's, freeze), under load via FAULTS_VIA (both: the proxy's
// fast path and the monitor; dns: the monitor alone, interval 250ms, fails
// 3, timeout 100ms and so monitor.fast-interval's default, 125ms: the
// labtest inventory sets none), in FAULTS_MODE (warm or cold; default
// warm). Each report goes to FAULTS_OUT/fence-METHOD/VIA/MODE/runN/
// (default a temporary directory). It is a benchmark, not a test: the table takes the lab for minutes, so
// only bench/run.sh runs it (-run '^$' -bench '^BenchmarkFaultTable$'
// -benchtime 1x). Each sub-benchmark METHOD/VIA/MODE/KIND runs that
// kind's drills, fails on a wrong outcome (checkTableResult) and reports
// the median of each phase (ms after the injection) as a metric.
func BenchmarkFaultTable(b *testing.B) {
	cfg, err := faultTableEnv(b.TempDir)
	if err != nil {
		b.Fatal(err)
	}
	var suffixes, modes []string
	for _, k := range faultKinds {
		suffixes = append(suffixes, "t"+cfg.mode[:1]+"-"+string(k))
		modes = append(modes, cfg.mode)
	}
	w := newLabWorldFenced(b, labBaseTbl, suffixes, modes, cfg.method)
	for i, kind := range faultKinds {
		s := w.services[i]
		b.Run(fmt.Sprintf("%s/%s/%s/%s", cfg.method, cfg.via, cfg.mode, kind), func(b *testing.B) {
			if kind == drill.HostDown {
				skipBesideDemo(b)
			}
			for b.Loop() {
				phases := map[string][]float64{}
				for r := cfg.first; r < cfg.first+cfg.runs; r++ {
					dir := filepath.Join(cfg.out, "fence-"+cfg.method, string(cfg.via), cfg.mode, fmt.Sprintf("run%d", r))
					w.faultDrill(b, kind, s, cfg.via, cfg.method, dir, phases)
				}
				for unit, v := range phases {
					b.ReportMetric(median(v), unit)
				}
			}
		})
	}
}

// faultTable is BenchmarkFaultTable's configuration.
type faultTable struct {
	out, method, mode string
	via               drill.Via
	first, runs       int
}

// faultTableEnv reads the configuration from the FAULTS_* environment; tmp
// gives the report directory when FAULTS_OUT is unset.
func faultTableEnv(tmp func() string) (faultTable, error) {
	c := faultTable{out: os.Getenv("FAULTS_OUT"), method: cmp.Or(os.Getenv("FAULTS_METHOD"), "freeze"),
		mode: cmp.Or(os.Getenv("FAULTS_MODE"), "warm")}
	if c.out == "" {
		c.out = tmp()
	}
	var err error
	if c.via, err = drill.ParseVia(cmp.Or(os.Getenv("FAULTS_VIA"), "both")); err != nil {
		return c, fmt.Errorf("read FAULTS_VIA: %w", err)
	}
	for _, v := range []struct {
		name string
		to   *int
	}{{"FAULTS_RUNS", &c.runs}, {"FAULTS_FIRST", &c.first}} {
		n, err := strconv.Atoi(cmp.Or(os.Getenv(v.name), "1"))
		if err != nil || n < 1 {
			return c, fmt.Errorf("read %s %q: want a count from 1", v.name, os.Getenv(v.name))
		}
		*v.to = n
	}
	return c, nil
}

// faultDrill runs one drill of the table, checks it, keeps its report in
// dir and adds its phases (ms after the injection) to phases.
func (w *labWorld) faultDrill(b *testing.B, kind drill.Kind, s labSvc, via drill.Via, method, dir string, phases map[string][]float64) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	w.ready(b, s)
	res := w.drillVia(b, kind, s, via)
	var rep bytes.Buffer
	if err := report.WriteReport(&rep, res); err != nil {
		b.Fatal(err)
	}
	b.Logf("\n%s", rep.String())
	checkTableResult(b, res, via, method)
	checkFaultGone(b, w, kind, s)
	w.checkAllHome(b)
	keep(b, dir, res, rep.Bytes())
	_ = os.Remove(filepath.Join(dir, "drill-"+string(kind)+".svg")) // large; the JSON has the numbers
	p := res.Phases
	for unit, v := range map[string]*int64{"detected-ms": p.Detected, "confirmed-ms": p.Confirmed,
		"fenced-ms": p.Fenced, "activated-ms": p.Activated, "flipped-ms": p.DNSFlipped} {
		if v != nil {
			phases[unit] = append(phases[unit], float64(*v))
		}
	}
}

// median is the middle value of v (the mean of the two middle ones for an
// even count).
func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// checkTableResult checks what every row of the table claims: the service
// recovered, the phases up to the flip were recorded, a freeze fence
// recorded its background stop after the flip, and no request through the
// proxy failed.
func checkTableResult(t testing.TB, res *drill.Result, via drill.Via, method string) {
	t.Helper()
	if res.Verdict != drill.Recovered || res.IncidentResult != "recovered" {
		t.Fatalf("verdict %s, incident %q, notes %v", res.Verdict, res.IncidentResult, res.Notes)
	}
	p := res.Phases
	for name, v := range map[string]*int64{"detected": p.Detected, "fenced": p.Fenced, "activated": p.Activated, "dns_flipped": p.DNSFlipped} {
		if v == nil {
			t.Errorf("phase %s missing", name)
		}
	}
	switch {
	case method == "freeze" && (p.FenceStop == nil || p.DNSFlipped == nil || *p.FenceStop < *p.DNSFlipped):
		t.Errorf("fence-method freeze: fence_stop %v, dns_flipped %v; want the stop recorded after the flip",
			drill.Deref(p.FenceStop), drill.Deref(p.DNSFlipped))
	case method == "stop" && p.FenceStop != nil:
		t.Errorf("fence-method stop: a fence_stop phase at %d ms", *p.FenceStop)
	}
	if via != drill.ViaDNS && res.Requests.Proxy.Failed != 0 {
		t.Errorf("%d requests failed through the proxy, want 0:\n%s", res.Requests.Proxy.Failed, failedSamples(res, drill.PathProxy))
	}
	if !res.Restored {
		t.Errorf("not restored: %v", res.Notes)
	}
	if strings.Contains(strings.Join(res.Notes, "\n"), "fault NOT removed") {
		t.Errorf("fault left in place: %v", res.Notes)
	}
}
