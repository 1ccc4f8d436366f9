package capacity

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/spares"
)

// Standbys keeps the last capacity sample of each standby VM and whether
// it is overloaded, written by a Watch and read by the status and
// /metrics. Spares' samples live in Spares. Safe for concurrent use.
type Standbys struct {
	mu    sync.Mutex
	views map[string]standbyView
}

type standbyView struct {
	sample     Sample
	overloaded bool
	why        string
}

// NewStandbys returns an empty view.
func NewStandbys() *Standbys { return &Standbys{views: map[string]standbyView{}} }

// set records a standby's sample and overload state, and returns whether
// it was overloaded before.
func (v *Standbys) set(name string, s Sample, overloaded bool, why string) (was bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	was = v.views[name].overloaded
	v.views[name] = standbyView{sample: s, overloaded: overloaded, why: why}
	return was
}

// Overloaded returns the overloaded standbys, with why.
func (v *Standbys) Overloaded() map[string]string {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := map[string]string{}
	for name, sv := range v.views {
		if sv.overloaded {
			out[name] = sv.why
		}
	}
	return out
}

// keep forgets the standbys not in names (they left the inventory).
func (v *Standbys) keep(names map[string]bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for name := range v.views {
		if !names[name] {
			delete(v.views, name)
		}
	}
}

// capacityTimeout bounds one capacity sample of a standby.
const capacityTimeout = 2 * time.Second

// Watch keeps one spares.Detector per standby VM. The move loop owns it
// (not safe for concurrent use); what it finds goes to its Standbys.
type Watch struct {
	src       Source
	views     *Standbys
	log       *slog.Logger
	th        spares.Thresholds
	detectors map[string]*spares.Detector // by standby name
}

// NewWatch returns a watch that samples src into views.
func NewWatch(src Source, views *Standbys, log *slog.Logger) *Watch {
	return &Watch{src: src, views: views, log: log, detectors: map[string]*spares.Detector{}}
}

// thresholds converts the inventory's migration.overload.
func thresholds(o inventory.Overload) spares.Thresholds {
	return spares.Thresholds{Steal: o.Steal, Load: o.Load, Window: o.Window}
}

// Sample reads every standby's capacity once, feeds its detector and
// updates which standbys are overloaded. A standby whose sample fails gets
// no sample: a gap longer than the detector's MaxGap ends a run.
func (w *Watch) Sample(ctx context.Context, inv *inventory.Inventory, now time.Time) {
	o := inv.Migration.Overload
	if th := thresholds(o); th != w.th {
		w.th = th
		w.detectors = map[string]*spares.Detector{} // new thresholds: start over
	}
	seen := map[string]bool{}
	for _, sb := range inv.Standby {
		if ctx.Err() != nil {
			return
		}
		seen[sb.Name] = true
		// Sampled also when the trigger is off: the status shows it.
		sctx, cancel := context.WithTimeout(ctx, capacityTimeout)
		cp, err := w.src.Capacity(sctx, sb.Name)
		cancel()
		sample := Sample{At: now, Cap: cp, Err: err}
		if !o.Enabled {
			w.set(sb.Name, sample, false, "")
			continue
		}
		d := w.detectors[sb.Name]
		if d == nil {
			d = spares.NewDetector(w.th)
			w.detectors[sb.Name] = d
		}
		switch {
		case errors.Is(err, ErrNoCapacity):
		case err != nil:
			w.log.Debug("capacity sample", "standby", sb.Name, "err", err)
		default:
			d.Add(spares.Sample{At: now, Steal: cp.StealPercent, Load1: cp.Load[0], CPUs: cp.CPUs})
		}
		over, why := d.Overloaded(now)
		w.set(sb.Name, sample, over, why)
	}
	w.views.keep(seen)
	for name := range w.detectors {
		if !seen[name] {
			delete(w.detectors, name)
		}
	}
}

// set records a standby's sample and whether it is overloaded, and logs
// the changes.
func (w *Watch) set(name string, s Sample, over bool, why string) {
	switch was := w.views.set(name, s, over, why); {
	case over && !was:
		w.log.Warn("standby VM overloaded; migrating its services one by one", "standby", name, "why", why)
	case !over && was:
		w.log.Info("standby VM no longer overloaded", "standby", name, "why", why)
	}
}

// Forget drops what this term measured, when it ends: a follower shows
// the standbys as not sampled, and exports no overload.
func (w *Watch) Forget() { w.views.keep(nil) }

// Moved restarts the run of a standby after a migration off it was sent:
// the next one needs another full window of overload, so that the effect
// of the first is seen before more services move.
func (w *Watch) Moved(standby string) {
	if _, ok := w.detectors[standby]; ok {
		w.detectors[standby] = spares.NewDetector(w.th)
	}
}
