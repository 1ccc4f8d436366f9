package monitor

import (
	"context"
	"fmt"
	"sync"

	"github.com/understudy/understudy/ha"
	"github.com/understudy/understudy/recover/executor"
)

// roles is who leads, as this monitor knows it: its own term while it
// leads, the last term (also once it ended), and the leader it last
// observed; changed is closed and replaced at every change, so waiters
// (await, the findings, a follower's reports) wake. Safe for concurrent
// use.
type roles struct {
	name string // this monitor's

	mu      sync.RWMutex
	term    *term // while this monitor leads
	last    *term // the last term, also once it ended
	leader  ha.Leader
	changed chan struct{}
}

func newRoles(name string) *roles { return &roles{name: name, changed: make(chan struct{})} }

// now returns the term in force (nil while following), the leader as
// last observed, and the channel closed at the next change.
func (r *roles) now() (*term, ha.Leader, <-chan struct{}) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.term, r.leader, r.changed
}

// leading returns the term in force, nil while following.
func (r *roles) leading() *term {
	t, _, _ := r.now()
	return t
}

// leaderTerm returns the term in force, or an error wrapping errNoLeader
// while this monitor follows. Leader-only paths that act (agent calls, DNS,
// executor calls) take the term once and use its executor and epoch
// throughout, so they never mix two terms.
func (r *roles) leaderTerm() (*term, error) {
	if t := r.leading(); t != nil {
		return t, nil
	}
	return nil, fmt.Errorf("%w here: %s follows", errNoLeader, r.name)
}

// exec returns the executor of the term in force, or of the last one once
// it ended (its calls then fail), nil before the first term. Callers are
// leader-only paths: the API forwards mutating calls while following.
func (r *roles) exec() *executor.Executor {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.last == nil {
		return nil
	}
	return r.last.exec
}

// epoch is the fencing epoch: this monitor's while it leads, else the
// leader's as last observed (0 when unknown).
func (r *roles) epoch() uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.term != nil {
		return r.term.epoch
	}
	return uint64(r.leader.Rev)
}

// set swaps the term in force and wakes whoever waits for a change.
func (r *roles) set(t *term) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.term = t
	if t != nil {
		r.last = t
	}
	r.wake()
}

// observe records the leader another monitor's election shows, and
// reports whether it changed.
func (r *roles) observe(l ha.Leader) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if l == r.leader {
		return false
	}
	r.leader = l
	r.wake()
	return true
}

// wake closes and replaces changed; r.mu is held.
func (r *roles) wake() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// await waits until this monitor leads (nil) or another monitor with an
// address does (that monitor), or ctx ends.
func (r *roles) await(ctx context.Context) (*ha.Leader, error) {
	for {
		t, l, changed := r.now()
		if t != nil {
			return nil, nil
		}
		if l.Name != "" && l.Name != r.name && l.Address != "" {
			return &l, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w here yet (%s follows): %w", errNoLeader, r.name, ctx.Err())
		case <-changed:
		}
	}
}
