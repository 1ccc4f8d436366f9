package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/drill"
	"github.com/understudy/understudy/drill/report"
)

// drillCode runs runDrill and maps its error to an exit code as run does.
func drillCode(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	err := runDrill(context.Background(), args, &out, &errb)
	var ee *exitError
	switch {
	case err == nil:
		code = 0
	case errors.As(err, &ee):
		code = ee.code
		errb.WriteString(ee.Error())
	default:
		code = 1
		errb.WriteString(err.Error())
	}
	return code, out.String(), errb.String()
}

func TestDrillCommandRefuses(t *testing.T) {
	const minimal = "../../examples/minimal.yaml" // not lab: true
	for _, tc := range []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"no flags", nil, 2, "usage: understudy drill"},
		{"bad kind", []string{"-f", minimal, "--service", "web", "--inject", "meteor"}, 2, "unknown inject kind"},
		{"bad via", []string{"-f", minimal, "--service", "web", "--inject", "vm-stop", "--via", "pigeon"}, 2, "want dns, proxy or both"},
		{"not a lab, no --yes", []string{"-f", minimal, "--service", "web", "--inject", "vm-stop"}, exitRefused, "--yes"},
		{"lab-only kind", []string{"-f", minimal, "--service", "web", "--inject", "blackhole", "--yes"}, exitRefused, "lab-only"},
		{"unknown service", []string{"-f", minimal, "--service", "nope", "--inject", "vm-stop", "--yes"}, 2, `service "nope" is not in the inventory`},
		{"help", []string{"-h"}, 0, "--restore"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := drillCode(tc.args...)
			if code != tc.wantCode || !strings.Contains(stderr, tc.wantStderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tc.wantCode, tc.wantStderr)
			}
		})
	}
}

func TestDrillHistoryCommand(t *testing.T) {
	path := filepath.Join(t.TempDir(), report.HistoryFile)
	start := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	for i, rec := range []int64{1000, 1000, 1000, 2000} {
		r := &drill.Result{Service: "web", Inject: drill.VMStop, Via: drill.ViaBoth, Verdict: drill.Recovered,
			Started: start.Add(time.Duration(i) * time.Minute), RecoveryMS: &rec}
		if err := report.AppendHistory(path, r); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, stderr := drillCode("history", "--file", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "4 drills, 1 regressions") || !strings.Contains(stdout, "REGRESSION: 2000 ms") {
		t.Errorf("history output:\n%s", stdout)
	}
	if code, _, stderr := drillCode("history", "--file", path, "--service", "api"); code != 0 {
		t.Errorf("exit %d: %s", code, stderr)
	}
	if code, _, _ := drillCode("history"); code != 2 {
		t.Errorf("history without -f or --file: exit %d, want 2", code)
	}
}

// recordDrill says only the chart is missing when the history line was
// written, and that the drill is not recorded when it was not.
func TestRecordDrillMessages(t *testing.T) {
	dir := t.TempDir()
	r := &drill.Result{Service: "web", Inject: drill.VMStop, Via: drill.ViaDNS, Verdict: drill.Recovered,
		Started: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)}
	if err := os.WriteFile(filepath.Join(dir, report.ChartDir), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	recordDrill(filepath.Join(dir, report.HistoryFile), r, &errb)
	if got := errb.String(); !strings.Contains(got, "recorded in the history") || !strings.Contains(got, "chart was not saved") ||
		strings.Contains(got, "not recorded") {
		t.Errorf("chart failure: stderr %q", got)
	}
	errb.Reset()
	recordDrill(filepath.Join(dir, report.ChartDir, "sub", report.HistoryFile), r, &errb)
	if got := errb.String(); !strings.Contains(got, "not recorded in the history") {
		t.Errorf("history failure: stderr %q", got)
	}
}
