package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// hostReport is what the summary reads of a host drill's JSON report
// (package drill's HostResult; its names are a stable contract).
type hostReport struct {
	Hypervisor  string `json:"hypervisor"`
	Verdict     string `json:"verdict"`
	AllServedMS *int64 `json:"all_served_ms"`
	P50MS       *int64 `json:"p50_ms"`
	P95MS       *int64 `json:"p95_ms"`
	Recovered   int    `json:"services_recovered"`
	Requests    map[string]struct {
		Failed              int `json:"failed"`
		FailedBefore        int `json:"failed_before_injection"`
		FailedAfterRecovery int `json:"failed_after_recovery"`
	} `json:"requests"`
	Steps []struct {
		Name     string `json:"name"`
		MedianMS int64  `json:"median_ms"`
	} `json:"steps"`
	Services []struct {
		Service    string `json:"service"`
		Mode       string `json:"mode"`
		RecoveryMS *int64 `json:"recovery_ms"`
		Requests   map[string]struct {
			Failed              int `json:"failed"`
			FailedBefore        int `json:"failed_before_injection"`
			FailedAfterRecovery int `json:"failed_after_recovery"`
		} `json:"requests"`
	} `json:"services"`
}

// parseHostDrills reads every host-*.json under dir and returns, per
// hypervisor, three tables over the runs: the totals (all served, p50, p95,
// services recovered, outage errors per path), each service's recovery
// (column "NAME (MODE)") and each step's median over the services.
func parseHostDrills(dir string) ([]*Table, error) {
	var tables []*Table
	byTitle := map[string]*Table{}
	add := func(title, col string, v float64) {
		t := byTitle[title]
		if t == nil {
			t = &Table{Package: "drill", Title: title, Stats: map[string]Stat{}, values: map[string][]float64{}}
			byTitle[title] = t
			tables = append(tables, t)
		}
		if _, ok := t.values[col]; !ok {
			t.Columns = append(t.Columns, col)
		}
		t.values[col] = append(t.values[col], v)
	}
	runs := map[string]int{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasPrefix(d.Name(), "host-") || filepath.Ext(path) != ".json" {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var h hostReport
		if err := json.Unmarshal(data, &h); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		runs[h.Hypervisor]++
		tot := fmt.Sprintf("host drill %s: every service", h.Hypervisor)
		for col, p := range map[string]*int64{"all_served_ms": h.AllServedMS, "p50_ms": h.P50MS, "p95_ms": h.P95MS} {
			if p != nil {
				add(tot, col, float64(*p))
			}
		}
		add(tot, "services_recovered", float64(h.Recovered))
		for _, path := range []string{"dns", "proxy"} {
			if c, ok := h.Requests[path]; ok {
				add(tot, "outage_errors_"+path, float64(c.Failed-c.FailedBefore-c.FailedAfterRecovery))
			}
		}
		per := fmt.Sprintf("host drill %s: each service's recovery through every path", h.Hypervisor)
		for _, s := range h.Services {
			if s.RecoveryMS != nil {
				add(per, fmt.Sprintf("%s (%s)", s.Service, s.Mode), float64(*s.RecoveryMS))
			}
		}
		steps := fmt.Sprintf("host drill %s: each step's median over the services", h.Hypervisor)
		for _, s := range h.Steps {
			add(steps, s.Name, float64(s.MedianMS))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, t := range tables {
		for c, v := range t.values {
			t.Stats[c] = newStat(v)
		}
		t.Rows = runs[strings.TrimPrefix(strings.SplitN(t.Title, ":", 2)[0], "host drill ")]
	}
	return tables, nil
}
