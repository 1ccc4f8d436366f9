package proxy

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// deadMonitor refuses everything, like a monitor whose host is down.
type deadMonitor struct{ calls int }

func (d *deadMonitor) WatchPlacements(context.Context, func(Placement)) error {
	d.calls++
	return errors.New("connection refused (dead monitor)")
}

func (d *deadMonitor) ReportSuspect(context.Context, string, SuspectReport) error {
	d.calls++
	return errors.New("connection refused (dead monitor)")
}

func TestMonitorsSkipADeadMonitor(t *testing.T) {
	dead, live := &deadMonitor{}, newFakeMonitor(Placement{Service: "web", Where: "primary"})
	ms, err := NewMonitors(dead, live)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// A report goes on to the live monitor at once, which stays current.
	if err := ms.ReportSuspect(ctx, "web", SuspectReport{Address: "10.0.0.1"}); err != nil {
		t.Fatalf("report with one live monitor: %v", err)
	}
	if got := live.reported(); len(got) != 1 || got[0] != "web 10.0.0.1" {
		t.Errorf("live monitor got %v", got)
	}
	if err := ms.ReportSuspect(ctx, "web", SuspectReport{Address: "10.0.0.1"}); err != nil || dead.calls != 1 {
		t.Errorf("second report: %v; dead monitor asked %d times, want once", err, dead.calls)
	}

	// The stream is watched at the live monitor; once it breaks, the next
	// watch goes to the next monitor in turn.
	sctx, cancel := context.WithCancel(ctx)
	got := make(chan Placement, 4)
	done := make(chan error, 1)
	go func() { done <- ms.WatchPlacements(sctx, func(p Placement) { got <- p }) }()
	if p := <-got; p.Service != "web" {
		t.Errorf("first placement = %+v", p)
	}
	live.breakStreams(false)
	if err := <-done; !errors.Is(err, ErrStreamEnded) || !strings.Contains(err.Error(), "monitor 2 of 2") {
		t.Errorf("broken stream: %v", err)
	}
	cancel()
	if err := ms.WatchPlacements(ctx, func(Placement) {}); err == nil || !strings.Contains(err.Error(), "monitor 1 of 2") {
		t.Errorf("next watch: %v, want the first monitor's refusal", err)
	}
}

func TestMonitorsAllDead(t *testing.T) {
	a, b := &deadMonitor{}, &deadMonitor{}
	ms, _ := NewMonitors(a, b)
	err := ms.ReportSuspect(context.Background(), "web", SuspectReport{})
	if err == nil || a.calls != 1 || b.calls != 1 {
		t.Fatalf("report with every monitor dead: %v (calls %d, %d)", err, a.calls, b.calls)
	}
	if _, err := NewMonitors(); err == nil {
		t.Error("NewMonitors() with no monitor succeeded")
	}
}
