package capacity_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor/capacity"
	"github.com/understudy/understudy/monitor/capacity/capacitytest"
	"github.com/understudy/understudy/standby"
)

// busy is a standby's answer with load-source cgroups: CPU use cpu % of 2
// CPUs, web carrying webShare of it and api the rest.
func busy(cpu, webShare float64) standby.Capacity {
	return standby.Capacity{CPUs: 2, StealIntervalMS: 5000, CPUIntervalMS: 5000, LoadSource: "cgroups", CPUPercent: cpu,
		MemoryTotal: 1 << 30, MemoryUsed: 1 << 28,
		Instances: []standby.InstanceLoad{{Name: "web", CPUPercent: cpu * webShare / 100}, {Name: "api", CPUPercent: cpu * (100 - webShare) / 100}}}
}

// TestWatchLoadTriggerAndCoolDown: a standby's own load trigger fires on
// CPU use above its threshold for the window with no steal; after a move
// it does not fire again before the cool-down ends, although the CPU use
// stays high, and its decisions say so; the move is counted by trigger;
// once the cool-down is over it fires again.
func TestWatchLoadTriggerAndCoolDown(t *testing.T) {
	inv := &inventory.Inventory{Standby: []inventory.Standby{{Name: "sb", Overload: &inventory.Overload{
		Enabled: true, Trigger: inventory.TriggerLoad, Steal: 10, Load: 1, CPU: 80, Memory: 90, Hysteresis: 0.1,
		Window: 20 * time.Second, CoolDown: time.Minute}}}}
	src := capacitytest.New()
	src.SetCapacity("sb", busy(92, 62))
	views := capacity.NewStandbys()
	w := capacity.NewWatch(src, views, slog.New(slog.DiscardHandler))
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	step := func() {
		w.Sample(t.Context(), inv, at)
		at = at.Add(5 * time.Second)
	}
	for range 4 { // 0 s .. 15 s: rising
		step()
	}
	if len(views.Overloaded()) != 0 {
		t.Fatal("overloaded before the window passed")
	}
	step() // 20 s: fired
	why := views.Overloaded()["sb"]
	if !strings.Contains(why, "CPU 92 % over 20 s (threshold 80 %)") {
		t.Fatalf("overloaded = %q, want the load trigger's reason", why)
	}
	last, trigger, _ := views.Last("sb")
	if sh := capacity.Shares(last, trigger); sh["web"] < 61.9 || sh["web"] > 62.1 {
		t.Errorf("shares = %v, want web 62 %%", sh)
	}
	w.Moved("sb", "web")
	for range 11 { // 25 s .. 75 s: the load stays high for the whole cool-down
		step()
		if len(views.Overloaded()) != 0 {
			t.Fatalf("overloaded again at %s, inside the cool-down", at)
		}
	}
	vms := capacity.VMs(inv, views, capacity.NewSpares())
	if vms[0].TriggerState != capacity.StateCoolDown || vms[0].CoolDownUntil.IsZero() || vms[0].CPUPercent != 92 {
		t.Errorf("status = %+v, want the cool-down and CPU 92 %%", vms[0])
	}
	var moved, held bool
	for _, d := range views.Decisions("sb") {
		moved = moved || strings.Contains(d, "moved web off it")
		held = held || strings.Contains(d, "held back by the cool-down")
	}
	if !moved || !held {
		t.Errorf("decisions = %q, want the move and the cool-down holding the trigger back", views.Decisions("sb"))
	}
	if n := views.Moves()[inventory.TriggerLoad]; n != 1 {
		t.Errorf("moves by the load trigger = %v, want 1", n)
	}
	step() // 80 s: the cool-down is over, the CPU use held for the window
	if len(views.Overloaded()) != 1 {
		t.Errorf("not overloaded after the cool-down: %+v", capacity.VMs(inv, views, capacity.NewSpares())[0])
	}
}
