package contentsync

import (
	"context"
	"sync"
	"time"
)

// swapTimeout bounds a swap once it began: cancelling the sync does not cut
// it (a standby cut half-way would be activated half-swapped), this does.
const swapTimeout = 10 * time.Second

// standbyGuard owns the context of a sync's standby session: it ends when
// the sync's context does, except during a swap, which it lets finish
// (bounded by swapTimeout) before it ends the session.
type standbyGuard struct {
	ctx  context.Context // the sync's
	end  context.CancelFunc
	stop func() bool

	mu       sync.Mutex
	swapping bool
	cut      bool // the sync's context ended during the swap
}

// newStandbyGuard returns the guard of a sync run on ctx and the context to
// open the standby's session with. Call close when the sync is done.
func newStandbyGuard(ctx context.Context) (*standbyGuard, context.Context) {
	sctx, end := context.WithCancel(context.WithoutCancel(ctx))
	g := &standbyGuard{ctx: ctx, end: end}
	g.stop = context.AfterFunc(ctx, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.swapping {
			g.cut = true
			return
		}
		g.end()
	})
	return g, sctx
}

// begin starts a swap, or fails when the sync's context already ended;
// done ends the swap (and the session, if the sync was cut meanwhile).
func (g *standbyGuard) begin() (done func(), err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.ctx.Err(); err != nil {
		return nil, err
	}
	g.swapping = true
	t := time.AfterFunc(swapTimeout, g.end)
	return func() {
		t.Stop()
		g.mu.Lock()
		defer g.mu.Unlock()
		g.swapping = false
		if g.cut {
			g.end()
		}
	}, nil
}

// close ends the session's context.
func (g *standbyGuard) close() {
	g.stop()
	g.end()
}
