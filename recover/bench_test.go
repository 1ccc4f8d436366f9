package recover

import (
	"testing"
	"time"

	"github.com/understudy/understudy/playbooks"
)

// BenchmarkMachineFailover steps a Machine through a whole warm failover
// (trigger and six step results), without persistence.
func BenchmarkMachineFailover(b *testing.B) {
	pb, err := playbooks.Default("warm")
	if err != nil {
		b.Fatal(err)
	}
	cfg := Config{Service: Service{Name: "web", VM: "web-vm", Address: primaryAddr, Standby: "standby-1",
		Confirm: "agent", Fence: "hypervisor"}, Playbook: pb, Epoch: 1}
	for b.Loop() {
		m := New(cfg)
		acts, err := m.Step(Trigger{At: t0, Source: FromMonitor})
		for err == nil && len(acts) > 0 {
			a := acts[0].(RunStep)
			acts, err = m.Step(StepDone{At: t0.Add(time.Millisecond), Incident: a.Incident, Step: a.Index, Attempt: a.Attempt,
				Result: StepResult{Address: standbyAddr}})
		}
		if err != nil || m.State() != OnStandby {
			b.Fatalf("state %s, %v", m.State(), err)
		}
	}
}
