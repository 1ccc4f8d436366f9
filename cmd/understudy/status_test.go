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
)

// statusFixture is what a monitor answers after one recovered failover.
func statusFixture(now time.Time) api.Status {
	return api.Status{Epoch: 3, Time: now, Monitor: "mon-b",
		Monitors: []api.MonitorStatus{
			{Name: "mon-a", Address: "10.0.0.1:9180", Leader: true, Since: now.Add(-2 * time.Minute), Epoch: 3},
			{Name: "mon-b", Address: "10.0.0.2:9180"},
		},
		VMs: []api.VMStatus{
			{Name: "standby-1", Kind: "standby", SampledAt: now.Add(-3 * time.Second), Steal: 31.5, LoadPerCPU: 2.25, Overloaded: true, Why: "steal 31% and load 2.25 over 2m0s",
				CPUPercent: 92, MemoryPercent: 40, LoadSource: "cgroups", Trigger: "steal-and-load", TriggerState: "fired"},
			{Name: "spare-1", Kind: "spare", Unknown: "no agent in the inventory (spares[].agent)"},
		},
		Services: []api.ServiceStatus{
			{Service: "api", State: "primary", Where: "primary", Host: "api-vm", Address: "10.200.0.12",
				Standby: api.StandbyStatus{Name: "standby-1", Error: "standby not ready: data disk /srv/api missing"}},
			{Service: "web", State: "on-standby", Where: "standby", Host: "standby-1", Address: "10.200.1.100",
				Since: now.Add(-90 * time.Second), Incidents: 1,
				LastIncident: &api.IncidentStatus{ID: "web-1", Result: "recovered", Source: "monitor", TotalMS: 23.5,
					Phases: []api.PhaseStatus{
						{Phase: "detected"}, {Phase: "confirmed", SinceMS: 1.5}, {Phase: "activated", SinceMS: 9},
						{Phase: "dns-flipped", SinceMS: 13},
					}}},
		}}
}

func TestStatusCommand(t *testing.T) {
	now := time.Now()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/status" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(statusFixture(now))
	}))
	defer srv.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
	}))
	defer broken.Close()

	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		want     []string // substrings of stdout
		wantErr  string   // substring of stderr
	}{
		{name: "table", args: []string{"--url", srv.URL}, want: []string{
			"mon-a    leader               10.0.0.1:9180  2m0s ago     3",
			"mon-b    follower (answered)  10.0.0.2:9180  -            -",
			"standby-1  standby  31.5%  2.25      92%  40%  3s ago   OVERLOADED (steal-and-load): steal 31% and load 2.25 over 2m0s",
			"spare-1    spare    ?      ?         -    -    -        no agent in the inventory (spares[].agent)",
			"SERVICE", "LAST RECOVERY",
			"api      primary     primary/api-vm     10.200.0.12   -",
			"web      on-standby  standby/standby-1  10.200.1.100  1m30s ago  -    23.5ms (confirmed +1.5, activated +9, dns-flipped +13) recovered",
			"api (standby standby-1): standby not ready: data disk /srv/api missing",
		}},
		{name: "json", args: []string{"--url", srv.URL, "--json"}, want: []string{`"service": "web"`, `"total_ms": 23.5`}},
		{name: "monitor refuses", args: []string{"--url", broken.URL}, wantCode: 1, wantErr: "503 Service Unavailable: store unavailable"},
		{name: "no monitor", args: []string{"--url", "http://127.0.0.1:1"}, wantCode: 1, wantErr: "is `understudy monitor` running?"},
		{name: "neither -f nor --url", wantCode: 2, wantErr: "usage: understudy status"},
		{name: "bad inventory", args: []string{"-f", "no-such.yaml"}, wantCode: 1, wantErr: "no-such.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"status"}, tc.args...), &stdout, &stderr)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tc.wantCode, stderr.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
			if !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tc.wantErr)
			}
		})
	}
}

func TestMonitorCommandFlags(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{name: "no -f", wantCode: 2, wantErr: "usage: understudy monitor -f FILE"},
		{name: "bad log level", args: []string{"-f", "x.yaml", "--log-level", "loud"}, wantCode: 2, wantErr: `--log-level "loud"`},
		{name: "invalid inventory", args: []string{"-f", "../../inventory/testdata/invalid-five-mistakes.yaml"}, wantCode: 1, wantErr: "invalid-five-mistakes.yaml:"},
		{name: "help", args: []string{"-h"}, wantCode: 0, wantErr: "-log-level"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"monitor"}, tc.args...), &stdout, &stderr)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tc.wantCode, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tc.wantErr)
			}
		})
	}
}
