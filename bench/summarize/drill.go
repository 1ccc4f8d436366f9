package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// drillReport is what the summary reads of a drill's JSON report (package
// drill's Result; its names are a stable contract).
type drillReport struct {
	Service    string            `json:"service"`
	Inject     string            `json:"inject"`
	Via        string            `json:"via"`
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

// DrillKind is every drill of one inject kind and mode (and, for the
// faults group, one path and fence method).
type DrillKind struct {
	Inject string `json:"inject"`
	Mode   string `json:"mode"`
	// Via is the drill's --via when the reports sit under a fence-METHOD
	// directory (the faults group), and Fence that METHOD; both are empty
	// otherwise (the drill group: every drill via both).
	Via      string          `json:"via,omitempty"`
	Fence    string          `json:"fence,omitempty"`
	Runs     int             `json:"runs"`
	Verdicts []string        `json:"verdicts"`
	Stats    map[string]Stat `json:"stats"` // ms from the injection, and failed/ok request counts
	Files    []string        `json:"files"`
}

// drillColumns are the summary's columns, in order: phases (ms from the
// injection), the fence step (fenced − confirmed: the fence's own time,
// issue 18's goal of 50 ms), then counts.
var drillColumns = []string{"detected", "confirmed", "fenced", "fence_step", "activated", "dns_flipped", "fence_stop",
	"first_success_dns", "first_success_proxy", "recovery_ms", "failed_dns", "ok_dns", "failed_proxy", "ok_proxy"}

// fenceOf is METHOD when a directory of rel is named fence-METHOD (the
// faults group keeps each fence method's reports apart), else "".
func fenceOf(rel string) string {
	for _, d := range strings.Split(filepath.ToSlash(filepath.Dir(rel)), "/") {
		if m, ok := strings.CutPrefix(d, "fence-"); ok {
			return m
		}
	}
	return ""
}

// DrillSet is the fence step of every drill of one fence method, path and
// mode, all inject kinds together (the faults group's goal is a median over
// them).
type DrillSet struct {
	Fence     string `json:"fence,omitempty"`
	Via       string `json:"via,omitempty"`
	Mode      string `json:"mode"`
	Drills    int    `json:"drills"`
	FenceStep Stat   `json:"fence_step"` // fenced − confirmed, ms
}

// fenceStep is fenced − confirmed of a drill's phases, when both are set.
func fenceStep(p map[string]*int64) (float64, bool) {
	f, c := p["fenced"], p["confirmed"]
	if f == nil || c == nil {
		return 0, false
	}
	return float64(*f - *c), true
}

// parseDrills reads every drill-*.json under dir: each kind's values, and
// each fence method, path and mode's fence steps.
func parseDrills(dir string) ([]*DrillKind, []*DrillSet, error) {
	var kinds []*DrillKind
	byKey := map[string]*DrillKind{}
	var sets []*DrillSet
	bySet := map[string]*DrillSet{}
	steps := map[*DrillSet][]float64{}
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
		rel, _ := filepath.Rel(dir, path)
		fence, via := fenceOf(rel), ""
		if fence != "" {
			via = r.Via
		}
		key := fence + "/" + via + "/" + r.Inject + "/" + r.Mode
		k := byKey[key]
		if k == nil {
			k = &DrillKind{Inject: r.Inject, Mode: r.Mode, Via: via, Fence: fence, Stats: map[string]Stat{}}
			byKey[key] = k
			kinds = append(kinds, k)
			values[k] = map[string][]float64{}
		}
		k.Runs++
		k.Verdicts = append(k.Verdicts, r.Verdict)
		k.Files = append(k.Files, rel)
		v := values[k]
		for name, ms := range r.Phases {
			if ms != nil {
				v[name] = append(v[name], float64(*ms))
			}
		}
		if step, ok := fenceStep(r.Phases); ok {
			v["fence_step"] = append(v["fence_step"], step)
			skey := fence + "/" + via + "/" + r.Mode
			set := bySet[skey]
			if set == nil {
				set = &DrillSet{Fence: fence, Via: via, Mode: r.Mode}
				bySet[skey] = set
				sets = append(sets, set)
			}
			set.Drills++
			steps[set] = append(steps[set], step)
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
		return nil, nil, fmt.Errorf("read drill reports: %w", err)
	}
	for _, k := range kinds {
		for c, v := range values[k] {
			k.Stats[c] = newStat(v)
		}
	}
	for _, set := range sets {
		set.FenceStep = newStat(steps[set])
	}
	slices.SortStableFunc(sets, func(a, b *DrillSet) int {
		return cmp.Or(cmp.Compare(a.Fence, b.Fence), cmp.Compare(a.Via, b.Via), cmp.Compare(a.Mode, b.Mode))
	})
	slices.SortStableFunc(kinds, func(a, b *DrillKind) int {
		return cmp.Or(cmp.Compare(a.Fence, b.Fence), cmp.Compare(a.Via, b.Via), cmp.Compare(a.Mode, b.Mode), cmp.Compare(a.Inject, b.Inject))
	})
	return kinds, sets, nil
}
