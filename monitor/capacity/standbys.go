package capacity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/spares"
)

// Standbys keeps the last capacity sample of each standby VM, its
// trigger's state and recent decisions, written by a Watch and read by the
// status, /metrics and the move policy; and the automatic moves off
// overloaded standbys, by trigger. Spares' samples live in Spares. Safe for
// concurrent use.
type Standbys struct {
	mu    sync.Mutex
	views map[string]standbyView
	moves map[string]float64 // trigger -> moves sent off overloaded standbys
}

type standbyView struct {
	sample     Sample
	overloaded bool
	why        string
	trigger    string
	state      string    // spares.State* or StateCoolDown
	coolUntil  time.Time // a move off it was sent: none before then
	heldBack   bool      // a decision says the cool-down held a fired trigger back
	decisions  []string  // the latest last
}

// StateCoolDown is a trigger's state while its standby cools down after a
// move off it.
const StateCoolDown = "cool-down"

// maxDecisions bounds the decisions kept per standby.
const maxDecisions = 20

// NewStandbys returns an empty view.
func NewStandbys() *Standbys {
	// Every trigger has a series from the start, so a rate sees the first move.
	moves := map[string]float64{}
	for _, t := range []string{inventory.TriggerLoad, inventory.TriggerStealAndLoad, inventory.TriggerMemory} {
		moves[t] = 0
	}
	return &Standbys{views: map[string]standbyView{}, moves: moves}
}

// update changes a standby's view with fn, and returns whether it was
// overloaded before.
func (v *Standbys) update(name string, fn func(*standbyView)) (was bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	sv := v.views[name]
	was = sv.overloaded
	fn(&sv)
	v.views[name] = sv
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

// Last returns a standby's last sample and its trigger (the inventory's
// word), if it was sampled this term.
func (v *Standbys) Last(name string) (Sample, string, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	sv, ok := v.views[name]
	return sv.sample, sv.trigger, ok
}

// Decisions returns a standby's recent decisions, oldest first.
func (v *Standbys) Decisions(name string) []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.views[name].decisions...)
}

// Moves returns the automatic moves sent off overloaded standbys, by
// trigger, since the monitor started.
func (v *Standbys) Moves() map[string]float64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return maps.Clone(v.moves)
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

// Watch keeps one spares.Detector per standby VM, with that standby's
// trigger (inventory.OverloadOf), and its cool-down. The move loop owns it
// (not safe for concurrent use); what it finds goes to its Standbys.
type Watch struct {
	src       Source
	views     *Standbys
	log       *slog.Logger
	ths       map[string]spares.Thresholds // by standby name
	detectors map[string]*spares.Detector  // by standby name
	coolDown  map[string]time.Duration     // by standby name
	now       time.Time                    // of the last Sample
}

// NewWatch returns a watch that samples src into views.
func NewWatch(src Source, views *Standbys, log *slog.Logger) *Watch {
	return &Watch{src: src, views: views, log: log, ths: map[string]spares.Thresholds{},
		detectors: map[string]*spares.Detector{}, coolDown: map[string]time.Duration{}}
}

// thresholds converts an inventory overload trigger.
func thresholds(o inventory.Overload) spares.Thresholds {
	return spares.Thresholds{Trigger: spares.Trigger(o.Trigger), Steal: o.Steal, Load: o.Load, CPU: o.CPU,
		Memory: o.Memory, Hysteresis: o.Hysteresis, Window: o.Window}
}

// detectorSample is what a detector needs of an agent's answer.
func detectorSample(now time.Time, s Sample) spares.Sample {
	cp := s.Cap
	out := spares.Sample{At: now, Steal: cp.StealPercent, Load1: cp.Load[0], CPUs: cp.CPUs, CPUPercent: cp.CPUPercent}
	used := cp.MemoryUsed
	if used == 0 && cp.MemoryTotal > 0 {
		used = cp.MemoryTotal - cp.MemoryFree // an agent before memory_used
	}
	if cp.MemoryTotal > 0 {
		out.MemoryPercent = 100 * float64(used) / float64(cp.MemoryTotal)
	}
	return out
}

// Sample reads every standby's capacity once, feeds its detector and
// updates which standbys are overloaded. A standby whose sample fails gets
// no sample: a gap longer than the detector's MaxGap ends a run. A standby
// in its cool-down is not overloaded, whatever its detector says.
func (w *Watch) Sample(ctx context.Context, inv *inventory.Inventory, now time.Time) {
	w.now = now
	seen := map[string]bool{}
	for _, sb := range inv.Standby {
		if ctx.Err() != nil {
			return
		}
		seen[sb.Name] = true
		o := inv.OverloadOf(sb.Name)
		// Sampled also when the trigger is off: the status shows it.
		sctx, cancel := context.WithTimeout(ctx, capacityTimeout)
		cp, err := w.src.Capacity(sctx, sb.Name)
		cancel()
		sample := Sample{At: now, Cap: cp, Err: err}
		if !o.Enabled {
			w.set(sb.Name, sample, o.Trigger, spares.Verdict{State: "off", Why: "trigger off (overload.enabled: false)"})
			continue
		}
		w.coolDown[sb.Name] = o.CoolDown
		th := thresholds(o)
		d := w.detectors[sb.Name]
		if d == nil || th != w.ths[sb.Name] {
			d = spares.NewDetector(th) // new thresholds: start over
			w.detectors[sb.Name], w.ths[sb.Name] = d, th
		}
		switch {
		case errors.Is(err, ErrNoCapacity):
		case err != nil:
			w.log.Debug("capacity sample", "standby", sb.Name, "err", err)
		default:
			d.Add(detectorSample(now, sample))
		}
		w.set(sb.Name, sample, o.Trigger, d.Check(now))
	}
	w.views.keep(seen)
	for name := range w.detectors {
		if !seen[name] {
			delete(w.detectors, name)
			delete(w.ths, name)
			delete(w.coolDown, name)
		}
	}
}

// set records a standby's sample and its trigger's verdict (held back
// during a cool-down), keeps a decision when the trigger fires, clears or
// is held back, and logs the changes.
func (w *Watch) set(name string, s Sample, trigger string, v spares.Verdict) {
	at := w.now.UTC().Format(time.TimeOnly)
	var over bool
	was := w.views.update(name, func(sv *standbyView) {
		state, why := v.State, v.Why
		over = v.Overloaded
		if w.now.Before(sv.coolUntil) {
			until := sv.coolUntil.UTC().Format(time.TimeOnly)
			state, why = StateCoolDown, fmt.Sprintf("cool-down until %s; %s", until, v.Why)
			if over && !sv.heldBack {
				sv.note(fmt.Sprintf("%s held back by the cool-down (until %s): %s", at, until, v.Why))
				sv.heldBack = true
			}
			over = false
		} else if state != sv.state && (state == spares.StateFired || sv.state == spares.StateFired) {
			sv.note(at + " " + state + ": " + why)
		}
		sv.sample, sv.trigger, sv.overloaded, sv.why, sv.state = s, trigger, over, why, state
	})
	switch {
	case over && !was:
		w.log.Warn("standby VM overloaded; migrating its services one by one", "standby", name, "trigger", trigger, "why", v.Why)
	case !over && was:
		w.log.Info("standby VM no longer overloaded", "standby", name, "why", v.Why)
	}
}

// note keeps a decision, dropping the oldest beyond maxDecisions.
func (sv *standbyView) note(d string) {
	sv.decisions = append(sv.decisions, d)
	if n := len(sv.decisions); n > maxDecisions {
		sv.decisions = sv.decisions[n-maxDecisions:]
	}
}

// Forget drops what this term measured, when it ends: a follower shows
// the standbys as not sampled, and exports no overload.
func (w *Watch) Forget() { w.views.keep(nil) }

// Moved records that a migration off an overloaded standby was sent:
// it counts the move by the standby's trigger, starts the standby's
// cool-down (no further move before it ends) and restarts its detector,
// so that the next move also needs another full window and the effect of
// this one is seen first.
func (w *Watch) Moved(standby, service string) {
	th, ok := w.ths[standby]
	if !ok {
		return
	}
	w.detectors[standby] = spares.NewDetector(th)
	until := w.now.Add(w.coolDown[standby])
	trigger := string(th.Trigger)
	w.views.mu.Lock()
	w.views.moves[trigger]++
	w.views.mu.Unlock()
	w.views.update(standby, func(sv *standbyView) {
		sv.coolUntil, sv.heldBack, sv.overloaded, sv.state = until, false, false, StateCoolDown
		sv.note(fmt.Sprintf("%s moved %s off it (%s); cool-down until %s", w.now.UTC().Format(time.TimeOnly), service, sv.why, until.UTC().Format(time.TimeOnly)))
	})
}
