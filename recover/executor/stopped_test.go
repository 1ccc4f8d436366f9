package executor

import (
	"context"
	"errors"
	"testing"

	"github.com/understudy/understudy/recover"
)

// TestRunnerSavesNothingOnceStopped: a step that fails because the monitor
// stops (its context ended mid-copy) is not saved, and starts no undo: the
// stored record still shows the copy running, for the next monitor to
// resume. The runner's loop can take such a result when it wakes after the
// context ended (its select sees the result and the end at once); the test
// applies the result the copy left in the inbox as that loop would.
func TestRunnerSavesNothingOnceStopped(t *testing.T) {
	w := newMoveWorld(t, []string{"web"}, 0, nil)
	w.mig.block = make(chan struct{}) // never closed: the copy ends with its context
	w.mig.started = make(chan string, 1)
	if err := w.exec.Migrate(context.Background(), "web", "spare-1", recover.FromCLI, "operator"); err != nil {
		t.Fatal(err)
	}
	<-w.mig.started
	w.exec.mu.Lock()
	r := w.exec.runners["web"]
	w.exec.mu.Unlock()
	saves := w.store.Saves()
	w.stop() // the runner and its steps stopped; the copy's failure is queued

	envs := r.take()
	if len(envs) != 1 {
		t.Fatalf("queued after the stop: %+v, want the copy's result", envs)
	}
	failed, ok := envs[0].ev.(recover.StepFailed)
	if !ok || failed.Step != 1 {
		t.Fatalf("queued %+v, want the copy step failed", envs[0].ev)
	}
	if err := r.apply(envs[0]); !errors.Is(err, ErrStopped) {
		t.Errorf("apply after the stop: err %v, want ErrStopped", err)
	}
	r.steps.Wait() // nothing started; if something did, it ended
	if n := w.store.Saves(); n != saves {
		t.Errorf("%d saves after the stop, want none", n-saves)
	}
	recs, err := w.store.Load(context.Background())
	if err != nil || len(recs) != 1 {
		t.Fatalf("stored records %+v (%v), want web's", recs, err)
	}
	if rec := recs[0]; rec.State != recover.Migrating || rec.Incident.Steps[1].Status != recover.StatusRunning || rec.Incident.Steps[1].Attempt != 1 {
		t.Errorf("stored %s with copy step %+v, want migrating with the copy's first attempt running", rec.State, rec.Incident.Steps[1])
	}
	if w.mig.copyCalls() != 1 || len(w.mig.deletes) != 0 || len(w.deact.deactivated()) != 0 || w.agent.calls != 0 {
		t.Errorf("copies %d deletes %v resets %v activations %d after the stop, want the one copy and nothing undone",
			w.mig.copyCalls(), w.mig.deletes, w.deact.deactivated(), w.agent.calls)
	}
}
