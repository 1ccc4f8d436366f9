package recover

import (
	"context"
	"testing"
	"time"
)

func TestDue(t *testing.T) {
	since := t0
	onStandby := Record{Service: "web", State: OnStandby, Placement: Placement{Where: AtStandby, Since: since}}
	onSpare := Record{Service: "web", State: OnSpare, Placement: Placement{Where: AtSpare, Since: since}}
	open := onStandby
	open.Incident = &Incident{ID: "web-2", Kind: KindMigrate}
	primary := Record{Service: "web", State: Primary}
	auto := MovePolicy{AutoFailback: true}
	tests := []struct {
		name   string
		rec    Record
		policy MovePolicy
		facts  Facts
		now    time.Duration
		want   string
	}{
		{"nothing configured", onStandby, MovePolicy{}, Facts{}, time.Hour, ""},
		{"max on standby not reached", onStandby, MovePolicy{MaxOnStandby: time.Hour}, Facts{}, 59 * time.Minute, ""},
		{"max on standby reached", onStandby, MovePolicy{MaxOnStandby: time.Hour}, Facts{}, time.Hour, KindMigrate},
		{"overloaded standby", onStandby, MovePolicy{}, Facts{Overloaded: true, OverloadReason: "steal 30% load 4"}, time.Minute, KindMigrate},
		{"overload does not move a spare", onSpare, MovePolicy{}, Facts{Overloaded: true}, time.Minute, ""},
		{"max on standby does not apply on a spare", onSpare, MovePolicy{MaxOnStandby: time.Minute}, Facts{}, time.Hour, ""},
		{"manual failback never automatic", onStandby, MovePolicy{}, Facts{PrimaryHealthySince: since}, time.Hour, ""},
		{"primary unhealthy", onStandby, auto, Facts{}, time.Hour, ""},
		{"hold-down default not over", onStandby, auto, Facts{PrimaryHealthySince: since.Add(time.Minute)}, 10 * time.Minute, ""},
		{"hold-down default over", onStandby, auto, Facts{PrimaryHealthySince: since.Add(time.Minute)}, 11 * time.Minute, KindFailback},
		{"hold-down custom", onSpare, MovePolicy{AutoFailback: true, HoldDown: time.Minute}, Facts{PrimaryHealthySince: since}, time.Minute, KindFailback},
		{"healthy before the move counts from the move", onStandby, auto, Facts{PrimaryHealthySince: since.Add(-time.Hour)}, 5 * time.Minute, ""},
		{"failback wins over migration", onStandby, MovePolicy{AutoFailback: true, MaxOnStandby: time.Minute}, Facts{PrimaryHealthySince: since}, time.Hour, KindFailback},
		{"open incident", open, MovePolicy{MaxOnStandby: time.Minute}, Facts{}, time.Hour, ""},
		{"on primary", primary, MovePolicy{MaxOnStandby: time.Minute, AutoFailback: true}, Facts{PrimaryHealthySince: since, Overloaded: true}, time.Hour, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Due(tt.rec, tt.policy, tt.facts, since.Add(tt.now))
			if d.Kind != tt.want {
				t.Fatalf("Due = %+v, want kind %q", d, tt.want)
			}
			if (d.Kind == "") != (d.Reason == "") {
				t.Errorf("decision %q with reason %q", d.Kind, d.Reason)
			}
		})
	}
}

func TestMoveTransitions(t *testing.T) {
	tests := []struct {
		from State
		move func(*Machine) error
		ok   bool
	}{
		{OnStandby, (*Machine).migrate, true},
		{OnSpare, (*Machine).migrate, false},
		{Primary, (*Machine).migrate, false},
		{OnStandby, (*Machine).failBack, true},
		{OnSpare, (*Machine).failBack, true},
		{Primary, (*Machine).failBack, false},
		{Migrating, (*Machine).stick, true},
		{FailingBack, (*Machine).stick, true},
		{OnSpare, (*Machine).reset, true},
		{FailingBack, (*Machine).reset, true}, // settle to primary uses the same edge
		{Migrating, (*Machine).failBack, false},
	}
	for _, tt := range tests {
		m := &Machine{rec: Record{Service: "web", State: tt.from}}
		if err := tt.move(m); tt.ok != (err == nil) {
			t.Errorf("from %s: err %v, want ok=%v", tt.from, err, tt.ok)
		}
	}
}

// TestMoveKillAnywhereResumesOnce kills the monitor while each step of a
// migration (then of a failback) is in flight, before or after the step
// took effect, and restarts from the store. Every move ends where it should;
// a finished step never runs again; only the interrupted one runs twice.
func TestMoveKillAnywhereResumesOnce(t *testing.T) {
	cfg := Config{Service: Service{Name: "web", VM: "web-vm", Address: primaryAddr, Standby: "standby-1"}, Epoch: 1}
	moves := []struct {
		name  string
		start Event
		state State
		steps int
	}{
		{"migrate", Migrate{At: t0, Source: FromCLI, To: "spare-1"}, OnSpare, len(DefaultMigratePlaybook().Steps)},
		{"failback", Failback{At: t0, Source: FromCLI}, Primary, len(DefaultFailbackPlaybook().Steps)},
	}
	for _, mv := range moves {
		for kill := 1; kill <= mv.steps; kill++ {
			for _, tookEffect := range []bool{false, true} {
				runs, rec := simulateMove(t, cfg, mv.start, kill, tookEffect)
				if rec.State != mv.state || rec.Incident.Open() {
					t.Fatalf("%s kill at %d (effect %v): state %s result %q stuck %q", mv.name, kill, tookEffect, rec.State, rec.Incident.Result, rec.Incident.Stuck)
				}
				for i, s := range rec.Incident.Steps {
					want := 1
					if i == kill-1 && tookEffect {
						want = 2
					}
					if s.Status != StatusDone || runs[i] != want {
						t.Errorf("%s kill at %d (effect %v): step %d %s %s ran %d times, want %d", mv.name, kill, tookEffect, i, s.Kind, s.Status, runs[i], want)
					}
				}
			}
		}
	}
}

// simulateMove runs a move from the standby where every step succeeds,
// restarting the machine from the store while the kill-th step is in flight.
func simulateMove(t *testing.T, cfg Config, start Event, kill int, tookEffect bool) (map[int]int, Record) {
	t.Helper()
	ctx := context.Background()
	store := newRecordStore()
	m := Restore(cfg, Record{State: OnStandby, Seq: 1, Placement: Placement{Where: AtStandby, Host: "standby-1", Address: standbyAddr}})
	runs := map[int]int{}
	now := t0
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
	acts := step(start)
	started := 0
	for guard := 0; len(acts) > 0 && guard < 50; guard++ {
		a, ok := acts[0].(RunStep)
		if !ok {
			t.Fatalf("kill at %d: unexpected action %#v; record %+v", kill, acts[0], m.Record().Incident)
		}
		acts = acts[1:]
		now = now.Add(10 * time.Millisecond)
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
			if acts, err = m.Resume(now); err != nil {
				t.Fatal(err)
			}
			continue
		}
		runs[a.Index]++
		acts = append(acts, step(StepDone{At: now, Incident: a.Incident, Step: a.Index, Attempt: a.Attempt,
			Result: StepResult{Address: spareAddr}})...)
	}
	return runs, m.Record()
}
