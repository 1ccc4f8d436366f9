package executor

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/understudy/understudy/recover"
)

// TestExecutorActivateTimesOutThenRetries runs the executor in a
// testing/synctest bubble, where its clock (clock.Wall), its timers and the
// step's context deadline all follow the bubble's time, which moves only
// when every goroutine waits: an activation that never answers is abandoned
// exactly at its deadline (the warm playbook's 5 s), the retry after the
// backoff succeeds, and the test spends no wall time on either.
func TestExecutorActivateTimesOutThenRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, nil)
		w.agent.block = make(chan struct{}) // never closed: the first activation hangs
		w.agent.started = make(chan struct{}, 4)
		if err := w.exec.Trigger(context.Background(), "web", recover.FromMonitor, "vm down"); err != nil {
			t.Fatal(err)
		}
		<-w.agent.started
		w.agent.mu.Lock()
		w.agent.block = nil // the next activation answers
		w.agent.mu.Unlock()
		var r recover.Record
		for r = range w.saves { // a deadlock here fails the bubble
			if closed(r) {
				break
			}
		}
		if r.State != recover.OnStandby || r.Incident.Result != recover.ResultRecovered {
			t.Fatalf("state %s result %q stuck %q; want recovered after the retry", r.State, r.Incident.Result, r.Incident.Stuck)
		}
		act := r.Incident.Steps[2]
		w.agent.mu.Lock()
		calls := w.agent.calls
		w.agent.mu.Unlock()
		if act.Kind != "activate" || act.Attempt != 2 || calls != 2 {
			t.Fatalf("activate step %+v after %d activations; want done on its second attempt after the first timed out", act, calls)
		}
		// The first attempt ran its full timeout; the second began after a
		// backoff of at most 250 ms (less jitter) and answered at once.
		if took := act.Finished.Sub(act.Started); took < 5*time.Second || took > 5*time.Second+250*time.Millisecond {
			t.Errorf("activate took %v from its first attempt; want its 5s timeout plus at most the 250ms backoff", took)
		}
	})
}
