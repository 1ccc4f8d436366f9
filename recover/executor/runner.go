package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/store"
)

// envelope is one event for a runner, or the order to resume after a restart.
type envelope struct {
	ev     recover.Event
	resume bool
	done   chan<- error
}

// runner is the goroutine that owns one service's Machine while it has an
// open incident.
type runner struct {
	e      *Executor
	m      *recover.Machine
	ctx    context.Context
	cancel context.CancelFunc
	log    *slog.Logger

	mu     sync.Mutex
	inbox  []envelope
	notify chan struct{}
	steps  sync.WaitGroup // step attempts in flight

	// fenced is the store's refusal of a write (ErrFenced): this monitor no
	// longer leads, so the runner stops without acting. Owned by loop.
	fenced error
}

// post queues an event; it never blocks.
func (r *runner) post(env envelope, done chan<- error) {
	env.done = done
	r.mu.Lock()
	r.inbox = append(r.inbox, env)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

func (r *runner) take() []envelope {
	r.mu.Lock()
	defer r.mu.Unlock()
	in := r.inbox
	r.inbox = nil
	return in
}

// loop applies events until the incident closes and nothing is queued, or
// the executor's context ends.
// answer sends err to whoever waits for env, if anyone does.
func answer(env envelope, err error) {
	if env.done != nil {
		env.done <- err
	}
}

func (r *runner) loop() {
	defer r.e.wg.Done()
	defer r.steps.Wait()
	defer r.cancel()
	for {
		envs := r.take()
		for i, env := range envs {
			err := r.apply(env)
			if r.fenced != nil {
				// Out of the executor's map before any caller hears of
				// it: the next event starts a fresh runner.
				r.e.drop(r, r.fenced)
				answer(env, err)
				for _, rest := range envs[i+1:] {
					answer(rest, r.fenced)
				}
				return
			}
			answer(env, err)
		}
		if r.ctx.Err() != nil {
			return
		}
		if !r.m.Open() && r.e.retire(r) {
			return
		}
		wait := time.Hour
		if at, ok := r.m.Deadline(); ok {
			wait = max(at.Sub(r.e.cfg.Clock.Now()), 0)
		}
		select {
		case <-r.ctx.Done():
			return
		case <-r.notify:
		case <-r.e.cfg.Clock.After(wait):
			r.post(envelope{ev: recover.Tick{At: r.e.cfg.Clock.Now()}}, nil)
		}
	}
}

// apply steps the machine, persists the result, then performs the actions.
func (r *runner) apply(env envelope) error {
	before := r.m.Record()
	var acts []recover.Action
	var err error
	if env.resume {
		acts, err = r.m.Resume(r.e.cfg.Clock.Now())
	} else {
		acts, err = r.m.Step(env.ev)
	}
	switch {
	case errors.Is(err, recover.ErrStale):
		r.log.Debug("dropped a late result", "err", err)
		return err
	case err != nil:
		r.log.Warn("event refused", "event", eventName(env.ev), "err", err)
		return err
	}
	after := r.m.Record()
	if err := r.persist(after); err != nil {
		return err
	}
	r.e.cfg.Metrics.observe(before, after, isDamped(acts, after))
	r.logTransition(before, after)
	r.e.saved(after)
	for _, a := range acts {
		r.perform(a, after)
	}
	return nil
}

// persist saves rec, retrying until it succeeds or the context ends: no
// action may run before its transition is durable. A write the store
// fences (ErrFenced: another monitor leads) is not retried: the runner
// stops without acting, and its machine, ahead of the store, is dropped.
//
// Once the runner's context ended nothing is saved, whatever the store
// does with a done context: the events that arrive then are the steps
// failing because the monitor stops (context canceled), and saving one
// would fail or abort an incident the next monitor should resume.
func (r *runner) persist(rec recover.Record) error {
	for {
		if err := r.ctx.Err(); err != nil {
			return fmt.Errorf("persist the record of %q: %w: %w", rec.Service, ErrStopped, err)
		}
		err := r.e.cfg.Store.Save(r.ctx, rec)
		if err == nil {
			return nil
		}
		if errors.Is(err, store.ErrFenced) {
			r.log.Warn("persist service record: fenced; this monitor no longer acts on it", "err", err)
			r.fenced = fmt.Errorf("persist the record of %q: %w", rec.Service, err)
			return r.fenced
		}
		r.log.Error("persist service record; retrying", "err", err)
		select {
		case <-r.ctx.Done():
			return r.ctx.Err()
		case <-r.e.cfg.Clock.After(r.e.cfg.SaveRetry):
		}
	}
}

// perform starts one action in its own goroutine; its result comes back
// through the inbox.
func (r *runner) perform(a recover.Action, rec recover.Record) {
	switch a := a.(type) {
	case recover.RunStep:
		r.steps.Add(1)
		go func() {
			defer r.steps.Done()
			r.post(envelope{ev: r.runStep(a, rec)}, nil)
		}()
	case recover.StopFenced:
		r.e.stopFenced(a)
	case recover.Alert:
		r.log.Error("ALERT", "incident", a.Incident, "kind", a.Kind, "reason", a.Reason)
		r.steps.Add(1)
		go func() {
			defer r.steps.Done()
			r.alert(a, rec)
		}()
	}
}

func (r *runner) logTransition(before, after recover.Record) {
	inc := after.Incident
	if inc == nil {
		return
	}
	if before.State != after.State {
		r.log.Info("state changed", "incident", inc.ID, "from", before.State, "to", after.State)
	}
	if !inc.Open() && (before.Incident == nil || before.Incident.ID != inc.ID || before.Incident.Open()) {
		r.log.Info("incident closed", "incident", inc.ID, "result", inc.Result, "seconds", inc.Closed.Sub(inc.Opened).Seconds())
	}
}

func isDamped(acts []recover.Action, rec recover.Record) bool {
	for _, a := range acts {
		if al, ok := a.(recover.Alert); ok && al.Incident == "" && !rec.DampedUntil.IsZero() {
			return true
		}
	}
	return false
}

func eventName(ev recover.Event) string {
	switch ev.(type) {
	case recover.Trigger:
		return "trigger"
	case recover.Reset:
		return "reset"
	case recover.Tick:
		return "tick"
	case recover.StepDone:
		return "step-done"
	case recover.StepFailed:
		return "step-failed"
	case recover.FenceStopped:
		return "fence-stopped"
	}
	return "resume"
}
