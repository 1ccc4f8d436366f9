package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestParseHostDrills: two host drills give, per hypervisor, the totals,
// each service's recovery and each step, as medians over the runs.
func TestParseHostDrills(t *testing.T) {
	dir := t.TempDir()
	for i, js := range []string{
		`{"hypervisor":"host-a","all_served_ms":3000,"p50_ms":1500,"p95_ms":2900,"services_recovered":2,
		  "requests":{"proxy":{"failed":1,"failed_before_injection":1}},"steps":[{"name":"fence","median_ms":900}],
		  "services":[{"service":"f01","mode":"warm","recovery_ms":1500},{"service":"f02","mode":"cold","recovery_ms":3000}]}`,
		`{"hypervisor":"host-a","all_served_ms":4000,"p50_ms":2500,"p95_ms":3900,"services_recovered":2,
		  "requests":{"proxy":{"failed":0}},"steps":[{"name":"fence","median_ms":1100}],
		  "services":[{"service":"f01","mode":"warm","recovery_ms":2500},{"service":"f02","mode":"cold","recovery_ms":4000}]}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, "host-"+string(rune('1'+i))+".json"), []byte(js), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tables, err := parseHostDrills(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) != 3 {
		t.Fatalf("%d tables, want 3 (totals, services, steps)", len(tables))
	}
	for _, c := range []struct {
		table int
		col   string
		want  float64
	}{{0, "all_served_ms", 3500}, {0, "outage_errors_proxy", 0}, {1, "f02 (cold)", 3500}, {2, "fence", 1000}} {
		st, ok := tables[c.table].Stats[c.col]
		if !ok || st.Median != c.want || len(st.Values) != 2 {
			t.Errorf("%s / %s: %+v, want median %v of 2", tables[c.table].Title, c.col, st, c.want)
		}
	}
	if tables[0].Rows != 2 {
		t.Errorf("rows %d, want 2 runs", tables[0].Rows)
	}
}
