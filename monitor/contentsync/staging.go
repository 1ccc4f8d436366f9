package contentsync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Staging is a whole-instance sync's staging copy on a standby VM: the
// copy of Service's standby container that Instances.Refresh writes.
type Staging struct{ Standby, Service string }

// Stagings finds and removes the staging copies on the standby VMs: the
// daemon's side of lxd.Client.StagingCopies and lxd.Client.DeleteStaging,
// which go by an instance's name and its mark (lxd.StagingOfKey), never
// by its name alone.
type Stagings interface {
	// Stagings lists the staging copies on every standby VM this monitor
	// reaches; with an error, what it could list.
	Stagings(ctx context.Context) ([]Staging, error)
	// RemoveStaging deletes s after checking its name and mark again.
	RemoveStaging(ctx context.Context, s Staging) error
}

// errSyncRunning: a staging copy to remove belongs to a service whose
// sync still runs (it began before the sync left the inventory).
var errSyncRunning = errors.New("its service's sync is still running")

// sweepRetry is how long a sweep that failed (or left a copy because its
// sync still ran) waits before the next try, unless the inventory's
// whole-instance syncs change first.
const sweepRetry = time.Minute

// sweepState is the runner's record of its sweeps.
type sweepState struct {
	key     string    // the whole-instance targets of the last sweep
	ok      bool      // it removed every stale copy
	retry   time.Time // when a failed sweep is tried again
	running bool
	removed int64 // staging copies removed since the monitor started
}

// wholeKey names the whole-instance targets, the staging copies to keep.
func wholeKey(targets []Target) string {
	var ks []string
	for _, t := range targets {
		if t.WholeInstance {
			ks = append(ks, t.Standby+"/"+t.Service)
		}
	}
	slices.Sort(ks)
	return strings.Join(ks, " ")
}

// sweepDue says whether the staging copies should be swept now: at the
// start of a term, when the whole-instance targets changed since the last
// sweep, and sweepRetry after one that failed. It marks the sweep
// running.
func (r *Runner) sweepDue(targets []Target, now time.Time) bool {
	if r.cfg.Stagings == nil {
		return false
	}
	key := wholeKey(targets)
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &r.sweep
	if s.running || (key == s.key && (s.ok || now.Before(s.retry))) {
		return false
	}
	s.running, s.key = true, key
	return true
}

// sweepOnce runs a sweep that sweepDue marked running and records it.
func (r *Runner) sweepOnce(ctx context.Context) {
	_, err := r.SweepStaging(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sweep.running, r.sweep.ok = false, err == nil
	if err != nil {
		r.sweep.retry = r.cfg.Clock.Now().Add(sweepRetry)
		if ctx.Err() == nil {
			r.log.Warn("staging copies of whole-instance syncs that left the inventory are not all removed; trying again later", "err", err, "retry_in", sweepRetry)
		}
	}
}

// SweepStaging removes the staging copies that no whole-instance target
// of the inventory in force keeps: their sync was removed, turned to
// paths, moved to another standby VM, or their service left. A copy whose
// service's sync still runs stays (and the error says so, so the sweep is
// tried again). It returns what it removed; Run calls it at the start of
// each term and after each change of the whole-instance targets.
func (r *Runner) SweepStaging(ctx context.Context) ([]Staging, error) {
	if r.cfg.Stagings == nil {
		return nil, nil
	}
	keep := map[Staging]bool{}
	for _, t := range r.cfg.Targets() {
		if t.WholeInstance {
			keep[Staging{Standby: t.Standby, Service: t.Service}] = true
		}
	}
	found, err := r.cfg.Stagings.Stagings(ctx)
	errs := []error{err}
	var removed []Staging
	for _, s := range found {
		if keep[s] {
			continue
		}
		if err := r.removeStaging(ctx, s); err != nil {
			errs = append(errs, fmt.Errorf("remove the staging copy of %q on standby %q: %w", s.Service, s.Standby, err))
			continue
		}
		removed = append(removed, s)
	}
	return removed, errors.Join(errs...)
}

// removeStaging removes s unless its service's sync runs.
func (r *Runner) removeStaging(ctx context.Context, s Staging) error {
	r.mu.Lock()
	_, running := r.running[s.Service]
	r.mu.Unlock()
	if running {
		return errSyncRunning
	}
	if err := r.cfg.Stagings.RemoveStaging(ctx, s); err != nil {
		return err
	}
	r.mu.Lock()
	r.sweep.removed++
	r.mu.Unlock()
	r.log.Info("removed the staging copy of a whole-instance sync that left the inventory", "service", s.Service, "standby", s.Standby)
	return nil
}

// StagingRemoved is how many staging copies this runner removed.
func (r *Runner) StagingRemoved() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sweep.removed
}
