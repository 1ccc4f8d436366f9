package contentsync

import (
	"context"
	"errors"
	"fmt"

	"github.com/understudy/understudy/lxd"
)

// Instances copies whole instances (sync.whole-instance, cold services):
// the daemon's side of lxd.Client.Refresh and lxd.Client.Swap.
type Instances interface {
	// Refresh brings the service's staging copy on its standby VM up to
	// date with the primary instance, incrementally, its data through lim.
	// It never writes the standby container itself. Stats.Sent is what
	// travelled when the copy was relayed (a cap is set), else 0.
	Refresh(ctx context.Context, service string, lim *lxd.Limiter) (Stats, error)
	// Swap puts the staging copy in the place of the service's stopped
	// standby container, and the old container in the staging's place
	// (the base of the next Refresh).
	Swap(ctx context.Context, service string) error
}

// errNoInstances: a whole-instance target on a runner without Instances.
var errNoInstances = errors.New("this monitor cannot copy whole instances (no hypervisor access)")

// copyInstance runs one whole-instance sync of t: the refresh into the
// staging copy (which nothing serves from, so a failover during it needs
// no more than the cancel), then, with the gate still open, the swap,
// which a cancel lets finish as a path's swap (standbyGuard).
func (r *Runner) copyInstance(ctx context.Context, t Target, gate func() error) (Stats, error) {
	if r.cfg.Instances == nil {
		return Stats{}, fmt.Errorf("sync %q: %w", t.Service, errNoInstances)
	}
	st, err := r.cfg.Instances.Refresh(ctx, t.Service, r.cfg.Limiter())
	if err != nil {
		return st, fmt.Errorf("sync %q: refresh the staging copy: %w", t.Service, err)
	}
	guard, sctx := newStandbyGuard(ctx)
	defer guard.close()
	done, err := guard.begin()
	if err != nil {
		return st, fmt.Errorf("sync %q: %w", t.Service, err)
	}
	defer done()
	// Asked inside the swap's window: a failover that closes the gate
	// from here on waits for the swap (Runner.Stop) before it activates.
	if err := gate(); err != nil {
		return st, fmt.Errorf("sync %q: %w", t.Service, err)
	}
	if err := r.cfg.Instances.Swap(sctx, t.Service); err != nil {
		return st, fmt.Errorf("sync %q: swap the staging copy in: %w", t.Service, err)
	}
	st.Swapped = true
	return st, nil
}
