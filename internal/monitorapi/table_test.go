package monitorapi

import (
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/monitor/api"
)

// The status table shows each service's RPO (the age of its standby's
// copy) and the RPO an incident recorded.
func TestPrintStatusShowsTheRPO(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	st := api.Status{Services: []api.ServiceStatus{
		{Service: "api", State: "primary"},
		{Service: "shop", State: "primary", Sync: &api.SyncStatus{MaxRPOMS: 180e3, Exceeded: true, LastError: "sync \"shop\": open the primary: refused"}},
		{Service: "web", State: "on-standby", Sync: &api.SyncStatus{LastGood: now.Add(-12 * time.Second), AgeMS: 12400, MaxRPOMS: 180e3},
			LastIncident: &api.IncidentStatus{TotalMS: 900, Result: "recovered", Copy: &api.CopyStatus{Note: "served from a copy 4m12s old"}}},
	}}
	var b strings.Builder
	if err := PrintStatus(&b, st, now); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"RPO",
		"shop     primary     -         -        -      never synced EXCEEDED max-rpo 3m0s",
		"web      on-standby  -         -        -      12s",
		"900ms recovered; served from a copy 4m12s old",
		`shop (sync): sync "shop": open the primary: refused`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status table lacks %q:\n%s", want, out)
		}
	}
}

// A service whose failover waits for room on its standby shows why as its
// state.
func TestPrintStatusShowsUnprotected(t *testing.T) {
	st := api.Status{Services: []api.ServiceStatus{
		{Service: "big", State: "stuck", Where: "primary", Host: "vm1", Unprotected: "no capacity (needs 512 MiB, 128 MiB free)"},
		{Service: "web", State: "on-standby", Where: "standby", Host: "sb"},
	}}
	var b strings.Builder
	if err := PrintStatus(&b, st, time.Now()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"big unprotected: no capacity (needs 512 MiB, 128 MiB free) primary/vm1", "web on-standby standby/sb"} {
		if !strings.Contains(strings.Join(strings.Fields(out), " "), want) {
			t.Errorf("status table lacks %q:\n%s", want, out)
		}
	}
}

// A VM whose sample failed shows the error, not its trigger's state; a VM
// with a sample shows the trigger's state.
func TestPrintStatusSampleErrorBeatsTriggerState(t *testing.T) {
	st := api.Status{VMs: []api.VMStatus{
		{Name: "sb", Kind: "standby", Unknown: "sample: agent unreachable", Trigger: "load", TriggerState: "no-data"},
		{Name: "sb2", Kind: "standby", Trigger: "load", TriggerState: "rising", Why: "load 2.10 > 2.00"},
	}}
	var b strings.Builder
	if err := PrintStatus(&b, st, time.Now()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, "sample: agent unreachable") || strings.Contains(out, "load no-data") {
		t.Errorf("status table hides the sample error behind the trigger state:\n%s", out)
	}
	if !strings.Contains(out, "load rising: load 2.10 > 2.00") {
		t.Errorf("status table lacks the trigger state of a sampled VM:\n%s", out)
	}
}

// A service whose requests a proxy sends to the warm standby
// (proxy-reroute: warm) says so under the table.
func TestPrintStatusShowsReroutes(t *testing.T) {
	since := time.Date(2026, 1, 1, 11, 59, 0, 0, time.UTC)
	st := api.Status{Services: []api.ServiceStatus{
		{Service: "web", State: "primary", Where: "primary", Host: "vm1",
			Rerouted: []api.RerouteStatus{{Proxy: "px1", Since: since, Standby: "10.0.1.5", Reason: "probe miss confirmed"}}},
	}}
	var b strings.Builder
	if err := PrintStatus(&b, st, since.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	want := "web: rerouted by proxy px1 since 2026-01-01T11:59:00Z (to the warm standby 10.0.1.5: probe miss confirmed)"
	if !strings.Contains(b.String(), want) {
		t.Errorf("status table lacks %q:\n%s", want, b.String())
	}
}
