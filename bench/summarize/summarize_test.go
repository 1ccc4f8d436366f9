package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNewStat(t *testing.T) {
	for _, tc := range []struct {
		in            []float64
		med, min, max float64
		str           string
	}{
		{[]float64{3}, 3, 3, 3, "3"},
		{[]float64{5, 1, 3}, 3, 1, 5, "3 (1–5, n=3)"},
		{[]float64{4, 1, 3, 2}, 2.5, 1, 4, "2.5 (1–4, n=4)"},
		{[]float64{1250, 980.4}, 1115.2, 980.4, 1250, "1115 (980–1250, n=2)"},
	} {
		s := newStat(tc.in)
		if s.Median != tc.med || s.Min != tc.min || s.Max != tc.max || s.String() != tc.str {
			t.Errorf("newStat(%v) = %+v %q, want %v %v %v %q", tc.in, s, s, tc.med, tc.min, tc.max, tc.str)
		}
	}
}

func TestParseGoTest(t *testing.T) {
	f, err := os.Open("testdata/e2e.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	benches, tables, failed, err := parseGoTest(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(benches) != 1 || benches[0].Name != "BenchmarkFailoverWarm" || len(benches[0].Iterations) != 2 {
		t.Fatalf("benchmarks = %+v", benches)
	}
	if m := benches[0].Metrics["ms-death-to-flip-median"]; m.Median != 957.5 || m.Min != 925 || m.Max != 990 {
		t.Errorf("ms-death-to-flip-median = %+v", m)
	}
	if m := benches[0].Metrics["ns/op"]; m.Median != 1.6e9 {
		t.Errorf("ns/op = %+v", m)
	}
	if len(tables) != 1 || tables[0].Title != "warm failover" || tables[0].Rows != 2 {
		t.Fatalf("tables = %+v", tables)
	}
	if s := tables[0].Stats["death→flip"]; s.Median != 925 || s.Max != 950 {
		t.Errorf("death→flip = %+v (a row split over two output events must be joined)", s)
	}
	if len(failed) != 1 || !strings.HasSuffix(failed[0], "/lxd") {
		t.Errorf("failed = %v", failed)
	}
}

func TestRunWritesJSONAndMarkdown(t *testing.T) {
	out := t.TempDir()
	var stdout strings.Builder
	err := run([]string{"-name", "x", "-cmd", "bench/run.sh x", "-gotest", "testdata/e2e.json", "-drills", "testdata/drills", "-out", out}, &stdout)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(out, "x.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s Summary
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	if s.NProc < 1 || s.Command != "bench/run.sh x" || len(s.Drills) != 1 || s.Drills[0].Runs != 2 {
		t.Fatalf("summary = %+v", s)
	}
	if st := s.Drills[0].Stats["dns_flipped"]; st.Median != 600 || st.Min != 500 || st.Max != 700 {
		t.Errorf("dns_flipped = %+v", st)
	}
	if st := s.Drills[0].Stats["fence_step"]; st.Median != 25 || st.Min != 20 || st.Max != 30 {
		t.Errorf("fence_step = %+v, want fenced − confirmed of each drill (30, 20)", st)
	}
	if len(s.DrillSets) != 1 || s.DrillSets[0].Drills != 2 || s.DrillSets[0].FenceStep.Median != 25 {
		t.Errorf("drill sets = %+v", s.DrillSets)
	}
	md, err := os.ReadFile(filepath.Join(out, "x.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"nproc ", "`bench/run.sh x`", "| vm-stop | warm | 2 | recovered, recovered | 50 (40–60, n=2) |", "**FAILED**", "| — | — | warm | 2 | 25 (20–30, n=2) |", "ms/op | 1600 (1500–1700, n=2) |"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("x.md lacks %q:\n%s", want, md)
		}
	}
	if stdout.String() != string(md) {
		t.Error("stdout differs from x.md")
	}
}
