package recover

import (
	"context"
	"testing"
	"time"

	"github.com/understudy/understudy/playbooks"
)

// TestKillAnywhereResumesOnce kills the "monitor" at every point of a warm
// failover, before or after the in-flight step took effect, and restarts it
// from the store with a fresh Machine. Whatever the point, the incident ends
// recovered, every step is done, a finished step never runs again, and only
// the interrupted step may run twice (automatically when it is idempotent,
// through the operator's manual trigger otherwise).
func TestKillAnywhereResumesOnce(t *testing.T) {
	pb, err := playbooks.Default("warm")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Service: Service{Name: "web", VM: "web-vm", Address: primaryAddr, Standby: "standby-1",
		Confirm: "agent", Fence: "hypervisor"}, Playbook: pb, Epoch: 1}
	for kill := 1; kill <= len(pb.Steps); kill++ {
		for _, tookEffect := range []bool{false, true} {
			runs, rec, operator := simulate(t, cfg, kill, tookEffect)
			inc := rec.Incident
			if rec.State != OnStandby || inc.Result != ResultRecovered {
				t.Fatalf("kill at %d (effect %v): state %s result %q stuck %q", kill, tookEffect, rec.State, inc.Result, inc.Stuck)
			}
			for i, s := range inc.Steps {
				want := 1
				if i == kill-1 && tookEffect {
					want = 2 // the interrupted step ran again
				}
				if s.Status != StatusDone || runs[i] != want {
					t.Errorf("kill at %d (effect %v): step %d %s %s ran %d times, want %d", kill, tookEffect, i, s.Kind, s.Status, runs[i], want)
				}
			}
			interrupted := pb.Steps[kill-1]
			if wantOp := !interrupted.Rerunnable() && !(interrupted.Kind == playbooks.Fence); operator != wantOp {
				t.Errorf("kill at %d: operator needed %v, want %v", kill, operator, wantOp)
			}
		}
	}
}

// simulate runs a failover where every step succeeds, killing the machine
// while the kill-th step is in flight. It returns how often each step was
// performed, the final record and whether an operator had to step in.
func simulate(t *testing.T, cfg Config, kill int, tookEffect bool) (runs map[int]int, rec Record, operator bool) {
	t.Helper()
	ctx := context.Background()
	store := newRecordStore()
	m := New(cfg)
	now := t0
	runs = map[int]int{}
	step := func(ev Event) []Action {
		acts, err := m.Step(ev)
		if err != nil {
			t.Fatalf("step %T: %v", ev, err)
		}
		if err := store.Save(ctx, m.Record()); err != nil {
			t.Fatal(err)
		}
		return acts
	}
	acts := step(Trigger{At: now, Source: FromMonitor, Reason: "vm down"})
	started := 0
	for guard := 0; len(acts) > 0 && guard < 50; guard++ {
		a := acts[0]
		acts = acts[1:]
		now = now.Add(10 * time.Millisecond)
		switch a := a.(type) {
		case Alert:
			// A stuck incident: the operator checks and asks for the failover.
			operator = true
			acts = append(acts, step(Trigger{At: now, Source: FromCLI, Reason: "operator"})...)
		case RunStep:
			started++
			if started == kill {
				if tookEffect {
					runs[a.Index]++
				}
				recs, err := store.Load(ctx)
				if err != nil {
					t.Fatal(err)
				}
				m = Restore(cfg, recs[0])
				resumed, err := m.Resume(now)
				if err != nil {
					t.Fatal(err)
				}
				if err := store.Save(ctx, m.Record()); err != nil {
					t.Fatal(err)
				}
				acts = resumed
				continue
			}
			runs[a.Index]++
			acts = append(acts, step(StepDone{At: now, Incident: a.Incident, Step: a.Index, Attempt: a.Attempt,
				Result: StepResult{Address: standbyAddr}})...)
		}
	}
	return runs, m.Record(), operator
}
