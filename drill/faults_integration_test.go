package drill_test

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/understudy/understudy/drill"
	"github.com/understudy/understudy/drill/report"
)

// faultKinds are the five inject kinds of the fault table; host-down last,
// since it cuts every primary of host-a.
var faultKinds = []drill.Kind{drill.VMStop, drill.ServiceStop, drill.Blackhole, drill.VMFreeze, drill.HostDown}

// TestIntegrationFaultTable is the drill table of `bash bench/run.sh
// faults` (bench/results/faults.md): every inject kind against one service
// of one mode, FAULTS_RUNS times (default 1), in a world of its own
// (.190-.194) whose services have fence-method FAULTS_METHOD (freeze or
// stop; default the inventory's, freeze), under load via FAULTS_VIA (both:
// the proxy's fast path and the monitor; dns: the monitor alone, interval
// 250ms, fails 3), in FAULTS_MODE (warm or cold; default warm). Each report
// goes to FAULTS_OUT/fence-METHOD/VIA/MODE/runN/. It runs only when
// FAULTS_OUT is set: the table takes the lab for minutes.
func TestIntegrationFaultTable(t *testing.T) {
	out := os.Getenv("FAULTS_OUT")
	if out == "" {
		t.Skip("the fault table runs only for bench/run.sh faults: set FAULTS_OUT to a directory for its reports")
	}
	method := cmp.Or(os.Getenv("FAULTS_METHOD"), "freeze")
	mode := cmp.Or(os.Getenv("FAULTS_MODE"), "warm")
	via, err := drill.ParseVia(cmp.Or(os.Getenv("FAULTS_VIA"), "both"))
	if err != nil {
		t.Fatalf("FAULTS_VIA: %v", err)
	}
	runs, err := strconv.Atoi(cmp.Or(os.Getenv("FAULTS_RUNS"), "1"))
	if err != nil || runs < 1 {
		t.Fatalf("FAULTS_RUNS %q: want a count from 1", os.Getenv("FAULTS_RUNS"))
	}
	var suffixes, modes []string
	for _, k := range faultKinds {
		suffixes = append(suffixes, "t"+mode[:1]+"-"+string(k))
		modes = append(modes, mode)
	}
	w := newLabWorldFenced(t, labBaseTbl, suffixes, modes, method)
	for r := 1; r <= runs; r++ {
		dir := filepath.Join(out, "fence-"+method, string(via), mode, fmt.Sprintf("run%d", r))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, kind := range faultKinds {
			s := w.services[i]
			t.Run(fmt.Sprintf("%s/run%d", kind, r), func(t *testing.T) {
				if kind == drill.HostDown {
					skipBesideDemo(t)
				}
				w.ready(t, s)
				res := w.drillVia(t, kind, s, via)
				var rep bytes.Buffer
				if err := report.WriteReport(&rep, res); err != nil {
					t.Fatal(err)
				}
				t.Logf("\n%s", rep.String())
				checkTableResult(t, res, via, method)
				checkFaultGone(t, w, kind, s)
				w.checkAllHome(t)
				keep(t, dir, res, rep.Bytes())
				_ = os.Remove(filepath.Join(dir, "drill-"+string(kind)+".svg")) // large; the JSON has the numbers
			})
		}
	}
}

// checkTableResult checks what every row of the table claims: the service
// recovered, the phases up to the flip were recorded, a freeze fence
// recorded its background stop after the flip, and no request through the
// proxy failed.
func checkTableResult(t *testing.T, res *drill.Result, via drill.Via, method string) {
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
