package monitor

import (
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/monitor/capacity/capacitytest"
	"github.com/understudy/understudy/standby"
)

// TestStatusShowsTheVMs: the leader's move loop samples the standby and the
// spares; the status lists each with its steal and load per CPU, the
// standby as overloaded once both stayed high for the window, a spare
// whose agent does not answer or which has none as unknown with the
// reason; /metrics exports only the known ones.
func TestStatusShowsTheVMs(t *testing.T) {
	capa := &fakeCapacity{caps: map[string]standby.Capacity{}}
	capa.caps["sb"] = standby.Capacity{CPUs: 2, StealPercent: 30, StealIntervalMS: 5000, Load: [3]float64{4, 4, 4}}
	spares := capacitytest.New()
	spares.Set("spare-a", 4, 3, 2) // 3% steal, 0.5 per CPU
	inv := sparesWithAgents + "migration:\n  overload: {enabled: true, steal: 10, load: 1, window: 50ms}\n"
	h := start(t, inv, func(h *harness) {
		h.tune = func(o *Options) { o.MoveInterval, o.Capacity, o.SpareCapacity = 10*time.Millisecond, capa, spares }
	})
	vm := func(name string) api.VMStatus {
		for _, v := range h.status().VMs {
			if v.Name == name {
				return v
			}
		}
		t.Fatalf("VM %q not in the status", name)
		return api.VMStatus{}
	}
	h.eventually("the standby overloaded", func() bool { return vm("sb").Overloaded })
	if sb := vm("sb"); sb.Kind != "standby" || sb.Steal != 30 || sb.LoadPerCPU != 2 || sb.Unknown != "" || sb.SampledAt.IsZero() || sb.Why == "" {
		t.Errorf("standby = %+v", sb)
	}
	h.eventually("spare-a sampled", func() bool { return !vm("spare-a").SampledAt.IsZero() })
	if sp := vm("spare-a"); sp.Kind != "spare" || sp.Steal != 3 || sp.LoadPerCPU != 0.5 || sp.Unknown != "" {
		t.Errorf("spare-a = %+v", sp)
	}
	if c := vm("spare-c").Capacity; c.Containers != 9 {
		t.Errorf("spare-c capacity = %+v, want the inventory's 9 containers", c)
	}
	for name, why := range map[string]string{"spare-c": "no answer from its agent", "spare-d": "no agent in the inventory"} {
		if sp := vm(name); !strings.Contains(sp.Unknown, why) {
			t.Errorf("%s = %+v, want unknown: %s", name, sp, why)
		}
	}
	for _, line := range []string{
		`understudy_monitor_vm_steal_ratio{kind="standby",vm="sb"} 0.3`,
		`understudy_monitor_vm_load_per_cpu{kind="spare",vm="spare-a"} 0.5`,
	} {
		if !h.metricLine(line) {
			t.Errorf("/metrics lacks %s", line)
		}
	}
	if h.metricLine(`understudy_monitor_vm_steal_ratio{kind="spare",vm="spare-d"}`) {
		t.Error("/metrics exports a VM whose load is unknown")
	}
}
