package executor

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/understudy/understudy/recover"
)

// TestExecutorFreezeFence: with fence-method freeze the fence step freezes
// the primary and the failover goes on without waiting for a stop: the
// incident closes on the standby while the force-stop is still held; the
// stop then runs, after the DNS flip, and its end is the fence-stop phase on
// the closed incident.
func TestExecutorFreezeFence(t *testing.T) {
	gate := make(chan struct{})
	w := newWorldWith(t, func(c *recover.Config) { c.Service.FenceMethod = recover.FenceFreeze },
		func(w *world) { w.fencer.gate = gate })
	if err := w.exec.Trigger(context.Background(), "web", recover.FromMonitor, "3 probes failed"); err != nil {
		t.Fatal(err)
	}
	r := w.until("closed", closed)
	if r.State != recover.OnStandby || !r.Incident.Frozen {
		t.Fatalf("state %s frozen %v, want on-standby, frozen (last error %q)", r.State, r.Incident.Frozen, r.Incident.LastError)
	}
	frozen, stopped := w.fencer.calls()
	if !slices.Equal(frozen, []string{"host-a/web-vm"}) || len(stopped) != 0 {
		t.Fatalf("frozen %v stopped %v before the gate opened; want one freeze, no stop", frozen, stopped)
	}
	if _, ok := r.Incident.Phase(recover.PhaseFenceStop); ok {
		t.Fatal("fence-stop recorded before the stop ran")
	}
	close(gate)
	r = w.until("fence-stop", func(r recover.Record) bool { _, ok := r.Incident.Phase(recover.PhaseFenceStop); return ok })
	flipped, _ := r.Incident.Phase(recover.PhaseDNSFlipped)
	stop, _ := r.Incident.Phase(recover.PhaseFenceStop)
	if stop.Before(flipped) || r.State != recover.OnStandby || r.Incident.Open() {
		t.Errorf("fence-stop at %s, DNS flipped at %s, state %s open %v; want the stop after the flip, the incident closed on the standby",
			stop, flipped, r.State, r.Incident.Open())
	}
	w.stop()
	if _, stopped := w.fencer.calls(); !slices.Equal(stopped, []string{"host-a/web-vm"}) {
		t.Errorf("stopped %v, want the primary once", stopped)
	}
	if n := w.metric("understudy_recover_fence_stops_total", "ok"); n != 1 {
		t.Errorf("fence_stops_total{ok} = %v, want 1", n)
	}
}

// TestExecutorFreezeFenceStopFails: a failed background stop leaves the
// failover on the standby, with a warning on the incident and a fence-stop
// alert.
func TestExecutorFreezeFenceStopFails(t *testing.T) {
	w := newWorldWith(t, func(c *recover.Config) { c.Service.FenceMethod = recover.FenceFreeze },
		func(w *world) { w.fencer.stopErr = errors.New("hypervisor unreachable") })
	if err := w.exec.Trigger(context.Background(), "web", recover.FromMonitor, "3 probes failed"); err != nil {
		t.Fatal(err)
	}
	// The stop may fail before the incident closes (during notify) or after.
	r := w.until("closed with a fence-stop warning", func(r recover.Record) bool { return closed(r) && len(r.Incident.Warnings) > 0 })
	if r.State != recover.OnStandby || !strings.Contains(r.Incident.Warnings[0], "hypervisor unreachable") {
		t.Fatalf("state %s warnings %q; want on-standby with the stop's error", r.State, r.Incident.Warnings)
	}
	if !r.Incident.FenceStopFailed || r.Incident.FenceStopPending() {
		t.Errorf("fence-stop failed %v pending %v; want failed, not pending", r.Incident.FenceStopFailed, r.Incident.FenceStopPending())
	}
	w.stop()
	var alerts []Notification
	for _, n := range w.notes.events() {
		if n.Event == "alert" {
			alerts = append(alerts, n)
		}
	}
	if len(alerts) != 1 || alerts[0].Alert != recover.AlertFenceStop {
		t.Errorf("alerts %+v, want one fence-stop alert", alerts)
	}
	if n := w.metric("understudy_recover_fence_stops_total", "failed"); n != 1 {
		t.Errorf("fence_stops_total{failed} = %v, want 1", n)
	}
}

// TestExecutorFreezeFenceUnconfirmed: a freeze that fails is a fence that
// cannot be confirmed: with fence-required the incident sticks, as with a
// stop fence, and nothing is stopped.
func TestExecutorFreezeFenceUnconfirmed(t *testing.T) {
	w := newWorld(t, func(c *recover.Config) {
		c.Service.FenceMethod, c.Service.FenceRequired = recover.FenceFreeze, true
	})
	w.fencer.err = errors.New("hypervisor unreachable")
	if err := w.exec.Trigger(context.Background(), "web", recover.FromMonitor, "host down"); err != nil {
		t.Fatal(err)
	}
	r := w.until("stuck", func(r recover.Record) bool { return r.State == recover.Stuck })
	if !strings.Contains(r.Incident.Stuck, "fence-required") || !strings.Contains(r.Incident.Stuck, "freeze") || w.agent.calls != 0 {
		t.Fatalf("stuck %q, activations %d", r.Incident.Stuck, w.agent.calls)
	}
	w.stop()
	if frozen, stopped := w.fencer.calls(); len(frozen)+len(stopped) != 0 {
		t.Errorf("frozen %v stopped %v, want nothing", frozen, stopped)
	}
}

// TestExecutorFreezeFenceStopResumed: the executor that asked for the
// frozen primary's force-stop ends (leader change, restart) while the stop
// is held, after the incident closed. Nothing is recorded for the cut
// stop; the next executor asks for it again when it loads the closed
// incident, its end is the fence-stop phase, and failback is allowed.
func TestExecutorFreezeFenceStopResumed(t *testing.T) {
	gate := make(chan struct{})
	w := newWorldWith(t, func(c *recover.Config) { c.Service.FenceMethod = recover.FenceFreeze },
		func(w *world) { w.fencer.gate = gate })
	ctx := context.Background()
	if err := w.exec.Trigger(ctx, "web", recover.FromMonitor, "3 probes failed"); err != nil {
		t.Fatal(err)
	}
	w.until("closed", closed)
	w.stop()
	recs, err := w.store.Load(ctx)
	if err != nil || len(recs) != 1 {
		t.Fatalf("load: %d records, %v", len(recs), err)
	}
	if inc := recs[0].Incident; !inc.FenceStopDue() || len(inc.Warnings) != 0 {
		t.Fatalf("after the executor ended: stop due %v, warnings %q; want due, none", inc.FenceStopDue(), inc.Warnings)
	}
	if _, stopped := w.fencer.calls(); len(stopped) != 0 {
		t.Fatalf("stopped %v before the gate opened", stopped)
	}
	close(gate)
	w.start()
	r := w.until("fence-stop", func(r recover.Record) bool { _, ok := r.Incident.Phase(recover.PhaseFenceStop); return ok })
	if r.State != recover.OnStandby || r.Incident.Open() || r.Incident.FenceStopDue() {
		t.Fatalf("state %s open %v due %v; want the closed incident on the standby, the stop ended", r.State, r.Incident.Open(), r.Incident.FenceStopDue())
	}
	if _, stopped := w.fencer.calls(); !slices.Equal(stopped, []string{"host-a/web-vm"}) {
		t.Errorf("stopped %v, want the primary once, by the new executor", stopped)
	}
	if err := w.exec.Failback(ctx, "web", recover.FromCLI, "operator"); err != nil {
		t.Errorf("failback after the resumed stop: %v", err)
	}
}
