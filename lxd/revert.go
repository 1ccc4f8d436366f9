package lxd

import (
	"context"
	"log/slog"
	"time"
)

// cleanupTimeout bounds each undo step; undo runs after the caller's context
// may already have ended.
const cleanupTimeout = 30 * time.Second

// reverter undoes the finished steps of a multi-step change when a later
// step fails. It is the idea of Incus' shared/revert, kept to what this
// package needs:
//
//	r := newReverter(ctx, c.log)
//	defer r.fail()
//	... step; r.add("delete copy", undo) ...
//	r.success()
type reverter struct {
	ctx   context.Context // detached from cancellation of the caller's context
	log   *slog.Logger
	steps []revertStep
	done  bool
}

type revertStep struct {
	what string
	undo func(ctx context.Context) error
}

func newReverter(ctx context.Context, log *slog.Logger) *reverter {
	return &reverter{ctx: context.WithoutCancel(ctx), log: log}
}

// add registers how to undo a step that just succeeded.
func (r *reverter) add(what string, undo func(ctx context.Context) error) {
	r.steps = append(r.steps, revertStep{what: what, undo: undo})
}

// success keeps every step; a later fail does nothing.
func (r *reverter) success() { r.done = true }

// fail undoes the registered steps in reverse order, unless success was
// called. Undo errors are logged, never returned: the caller already returns
// the error that made it fail.
func (r *reverter) fail() {
	if r.done {
		return
	}
	r.done = true
	for i := len(r.steps) - 1; i >= 0; i-- {
		s := r.steps[i]
		ctx, cancel := context.WithTimeout(r.ctx, cleanupTimeout)
		if err := s.undo(ctx); err != nil {
			r.log.Warn("revert step failed", "step", s.what, "err", err)
		}
		cancel()
	}
}
