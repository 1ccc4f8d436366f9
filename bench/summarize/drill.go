package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// drillReport is what the summary reads of a drill's JSON report (package
// drill's Result; its names are a stable contract).
type drillReport struct {
	Service    string            `json:"service"`
	Inject     string            `json:"inject"`
	Mode       string            `json:"mode"`
	Load       int               `json:"load"`
	Verdict    string            `json:"verdict"`
	Phases     map[string]*int64 `json:"phases"`
	RecoveryMS *int64            `json:"recovery_ms"`
	Requests   struct {
		DNS   struct{ OK, Failed int } `json:"dns"`
		Proxy struct{ OK, Failed int } `json:"proxy"`
	} `json:"requests"`
}

// DrillKind is every drill of one inject kind and mode.
type DrillKind struct {
	Inject   string          `json:"inject"`
	Mode     string          `json:"mode"`
	Runs     int             `json:"runs"`
	Verdicts []string        `json:"verdicts"`
	Stats    map[string]Stat `json:"stats"` // ms from the injection, and failed/ok request counts
	Files    []string        `json:"files"`
}

// drillColumns are the summary's columns, in order: phases (ms from the
// injection), then counts.
var drillColumns = []string{"detected", "confirmed", "fenced", "activated", "dns_flipped", "fence_stop",
	"first_success_dns", "first_success_proxy", "recovery_ms", "failed_dns", "ok_dns", "failed_proxy", "ok_proxy"}

// parseDrills reads every drill-*.json under dir.
func parseDrills(dir string) ([]*DrillKind, error) {
	var kinds []*DrillKind
	byKey := map[string]*DrillKind{}
	values := map[*DrillKind]map[string][]float64{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasPrefix(d.Name(), "drill-") || filepath.Ext(path) != ".json" {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var r drillReport
		if err := json.Unmarshal(data, &r); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		key := r.Inject + "/" + r.Mode
		k := byKey[key]
		if k == nil {
			k = &DrillKind{Inject: r.Inject, Mode: r.Mode, Stats: map[string]Stat{}}
			byKey[key] = k
			kinds = append(kinds, k)
			values[k] = map[string][]float64{}
		}
		k.Runs++
		k.Verdicts = append(k.Verdicts, r.Verdict)
		rel, _ := filepath.Rel(dir, path)
		k.Files = append(k.Files, rel)
		v := values[k]
		for name, ms := range r.Phases {
			if ms != nil {
				v[name] = append(v[name], float64(*ms))
			}
		}
		if r.RecoveryMS != nil {
			v["recovery_ms"] = append(v["recovery_ms"], float64(*r.RecoveryMS))
		}
		v["failed_dns"] = append(v["failed_dns"], float64(r.Requests.DNS.Failed))
		v["ok_dns"] = append(v["ok_dns"], float64(r.Requests.DNS.OK))
		v["failed_proxy"] = append(v["failed_proxy"], float64(r.Requests.Proxy.Failed))
		v["ok_proxy"] = append(v["ok_proxy"], float64(r.Requests.Proxy.OK))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read drill reports: %w", err)
	}
	for _, k := range kinds {
		for c, v := range values[k] {
			k.Stats[c] = newStat(v)
		}
	}
	return kinds, nil
}
