package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/monitor/capacity/coverage"
)

const (
	planFleet   = "../../monitor/capacity/coverage/testdata/fleet.yaml"
	planHistory = "../../monitor/capacity/coverage/testdata/drills.jsonl"
)

func TestPlanCommand(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		want     []string // substrings of stdout
		wantErr  string   // substring of stderr
	}{
		{"text", []string{"plan", "-f", planFleet, "--history", planHistory}, 0,
			[]string{"loss of hypervisor host-a (host-a): 16 services, 16 recovered, 0 unprotected", "1.2 s (warm, median of 5 drills)", "understudy-shared-standby  1"}, ""},
		{"pairs", []string{"plan", "-f", planFleet, "--history", "none", "--pairs"}, 0,
			[]string{"loss of pair host-a+host-b (host-a, host-b): 24 services, 20 recovered, 4 unprotected", "no drill yet (cold)"}, ""},
		{"fail above: the standby's zone", []string{"plan", "-f", planFleet, "--history", "none", "--fail-above", "800"}, exitUnprotected,
			[]string{"loss of zone az1"}, "1 services above priority 800 would be unprotected:\n  f01 (priority 900, zone az1"},
		{"fail above: nothing that high", []string{"plan", "-f", planFleet, "--history", "none", "--fail-above", "1000"}, 0, nil, ""},
		{"no file", []string{"plan"}, 2, nil, "usage: understudy plan"},
		{"negative threshold", []string{"plan", "-f", planFleet, "--fail-above", "-1"}, 2, nil, "usage: understudy plan"},
		{"bad history", []string{"plan", "-f", planFleet, "--history", planFleet}, 1, nil, "fleet.yaml:1:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(context.Background(), tc.args, &out, &errb); code != tc.wantCode {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.wantCode, errb.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			if !strings.Contains(errb.String(), tc.wantErr) {
				t.Errorf("stderr %q lacks %q", errb.String(), tc.wantErr)
			}
		})
	}
}

func TestPlanJSONAndLiveCapacity(t *testing.T) {
	// The monitor says f21 (cold, host-b) is already served from the
	// standby and f01 moved to a spare; the rest are on their primaries with
	// their containers prepared.
	st := api.Status{}
	for _, s := range []string{"f01", "f02", "f17", "f21", "f22"} {
		ss := api.ServiceStatus{Service: s, Where: "primary", Host: s + "-vm", Standby: api.StandbyStatus{Name: "standby-1", Prepared: true}}
		switch s {
		case "f01":
			ss.Where, ss.Host = "spare", "spare-1"
		case "f21":
			ss.Where, ss.Host = "standby", "standby-1"
		}
		st.Services = append(st.Services, ss)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/status" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(st)
	}))
	defer srv.Close()
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"plan", "-f", planFleet, "--history", "none", "--json", "--monitor", srv.URL}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var r coverage.Report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("--json: %v\n%s", err, out.String())
	}
	if !strings.Contains(r.Capacity, srv.URL) {
		t.Errorf("capacity %q does not name the monitor", r.Capacity)
	}
	for _, d := range r.Domains {
		if d.Kind != coverage.KindHypervisor {
			continue
		}
		for _, x := range d.Recovered {
			if x.Service == "f01" {
				t.Errorf("%s: f01 runs on a spare, yet is recovered: %+v", d.Name, x)
			}
			if x.Service == "f21" && x.Expected != "already served from the standby" {
				t.Errorf("f21: %+v", x)
			}
		}
	}
}

// TestPlanFailRPO: with --monitor, plan shows each synced service's copy
// age, and --fail-rpo exits 3 naming the copies older than their max-rpo.
func TestPlanFailRPO(t *testing.T) {
	now := time.Now()
	st := api.Status{Services: []api.ServiceStatus{
		{Service: "f01", Where: "primary", Sync: &api.SyncStatus{LastGood: now.Add(-4 * time.Minute), AgeMS: 240000, MaxRPOMS: 180000, Exceeded: true}},
		{Service: "f09", Where: "primary", Sync: &api.SyncStatus{LastGood: now.Add(-time.Minute), AgeMS: 60000, MaxRPOMS: 600000}},
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(st)
	}))
	defer srv.Close()
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"plan", "-f", planFleet, "--history", "none", "--monitor", srv.URL, "--fail-rpo"}, &out, &errb)
	if code != exitUnprotected {
		t.Fatalf("exit %d, want %d; stderr: %s", code, exitUnprotected, errb.String())
	}
	if want := "1 services' standby copies are older than their max-rpo:\n  f01 (copy 4m old; max-rpo 3m exceeded)"; !strings.Contains(errb.String(), want) {
		t.Errorf("stderr %q lacks %q", errb.String(), want)
	}
	if want := "recovery points (services[].sync): 2 synced, 1 exceed their max-rpo"; !strings.Contains(out.String(), want) {
		t.Errorf("stdout lacks %q:\n%s", want, out.String())
	}
	st.Services[0].Sync = &api.SyncStatus{LastGood: now, AgeMS: 1000, MaxRPOMS: 180000}
	out.Reset()
	errb.Reset()
	if code := run(context.Background(), []string{"plan", "-f", planFleet, "--history", "none", "--monitor", srv.URL, "--fail-rpo"}, &out, &errb); code != 0 {
		t.Errorf("fresh copies: exit %d, want 0; stderr: %s", code, errb.String())
	}
	errb.Reset()
	if code := run(context.Background(), []string{"plan", "-f", planFleet, "--fail-rpo"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "usage: understudy plan") {
		t.Errorf("--fail-rpo without --monitor: exit %d (%s), want 2 and the usage", code, errb.String())
	}
}
