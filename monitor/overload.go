package monitor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/spares"
	"github.com/understudy/understudy/standby"
)

// CapacitySource reads what a standby VM's agent reports about its load
// and CPU steal (GET /v1/capacity), for the overload trigger. The default
// asks the agent clients the controller already holds; tests pass a fake.
// Implementations must be safe for concurrent use and honour ctx.
type CapacitySource interface {
	Capacity(ctx context.Context, standby string) (standby.Capacity, error)
}

// errNoCapacity: the standby's agent client cannot read its capacity (a
// test fake, or an Agent that is not a *standby.Client).
var errNoCapacity = errors.New("agent client cannot read capacity")

// capacityReader is the part of *standby.Client the default source uses.
type capacityReader interface {
	Capacity(ctx context.Context) (standby.Capacity, error)
}

// agentCapacity is the default CapacitySource: the standby agents.
type agentCapacity struct{ c *Controller }

func (a agentCapacity) Capacity(ctx context.Context, name string) (standby.Capacity, error) {
	ag, err := a.c.conns.agent(name)
	if err != nil {
		return standby.Capacity{}, err
	}
	r, ok := ag.(capacityReader)
	if !ok {
		return standby.Capacity{}, fmt.Errorf("standby %q: %w", name, errNoCapacity)
	}
	return r.Capacity(ctx)
}

// capacityTimeout bounds one capacity sample.
const capacityTimeout = 2 * time.Second

// overloadWatch keeps one spares.Detector per standby VM. The move loop
// owns it (not safe for concurrent use); what it finds goes to c.vms, which
// the status and /metrics read.
type overloadWatch struct {
	src       CapacitySource
	th        spares.Thresholds
	detectors map[string]*spares.Detector // by standby name
}

// newOverloadWatch returns the watch of the controller's standbys.
func (c *Controller) newOverloadWatch() *overloadWatch {
	src := c.opts.Capacity
	if src == nil {
		src = agentCapacity{c}
	}
	return &overloadWatch{src: src, detectors: map[string]*spares.Detector{}}
}

// thresholds converts the inventory's migration.overload.
func thresholds(o inventory.Overload) spares.Thresholds {
	return spares.Thresholds{Steal: o.Steal, Load: o.Load, Window: o.Window}
}

// sample reads every standby's capacity once, feeds its detector and
// updates which standbys are overloaded. A standby whose sample fails gets
// no sample: a gap longer than the detector's MaxGap ends a run.
func (w *overloadWatch) sample(ctx context.Context, c *Controller, now time.Time) {
	inv := c.plan().inv
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
		sample := capSample{at: now, cap: cp, err: err}
		if !o.Enabled {
			w.set(c, sb.Name, sample, false, "")
			continue
		}
		d := w.detectors[sb.Name]
		if d == nil {
			d = spares.NewDetector(w.th)
			w.detectors[sb.Name] = d
		}
		switch {
		case errors.Is(err, errNoCapacity):
		case err != nil:
			c.log.Debug("capacity sample", "standby", sb.Name, "err", err)
		default:
			d.Add(spares.Sample{At: now, Steal: cp.StealPercent, Load1: cp.Load[0], CPUs: cp.CPUs})
		}
		over, why := d.Overloaded(now)
		w.set(c, sb.Name, sample, over, why)
	}
	c.vms.keep(seen)
	for name := range w.detectors {
		if !seen[name] {
			delete(w.detectors, name)
		}
	}
}

// set records a standby's sample and whether it is overloaded, and logs
// the changes.
func (w *overloadWatch) set(c *Controller, name string, s capSample, over bool, why string) {
	switch was := c.vms.setStandby(name, s, over, why); {
	case over && !was:
		c.log.Warn("standby VM overloaded; migrating its services one by one", "standby", name, "why", why)
	case !over && was:
		c.log.Info("standby VM no longer overloaded", "standby", name, "why", why)
	}
}

// forget drops what this term measured, when it ends: a follower shows
// the standbys as not sampled, and exports no overload.
func (w *overloadWatch) forget(c *Controller) { c.vms.keep(nil) }

// moved restarts the run of a standby after a migration off it was sent:
// the next one needs another full window of overload, so that the effect
// of the first is seen before more services move.
func (w *overloadWatch) moved(standby string) {
	if _, ok := w.detectors[standby]; ok {
		w.detectors[standby] = spares.NewDetector(w.th)
	}
}

// overloadFacts samples the standbys and, for each overloaded one, marks
// the one service that should move off it first as Overloaded in facts
// (see overloadPick).
func (c *Controller) overloadFacts(ctx context.Context, st moveState, facts map[string]recover.Facts) {
	st.overload.sample(ctx, c, time.Now())
	over := c.vms.overloaded()
	if len(over) == 0 {
		return
	}
	p := c.plan()
	prio := func(name string) int {
		if s := p.inv.Service(name); s != nil {
			return s.Priority
		}
		return inventory.DefaultPriority
	}
	recent := func(name string) bool {
		last, ok := st.tried[name]
		return ok && time.Since(last) < autoMigrateRetry
	}
	recs := c.exec().Records()
	for sb, why := range over {
		name := overloadPick(sb, recs, p.standbys, prio, recent)
		if name == "" {
			continue
		}
		f := facts[name]
		f.Overloaded, f.OverloadReason = true, fmt.Sprintf("standby %s: %s", sb, why)
		facts[name] = f
	}
}

// overloadPick chooses the service to migrate off the overloaded standby
// sb: among its services that are on the standby with no open incident and
// not tried lately, the one with the lowest priority (ties: by name). The
// fair share on the standby already favours higher priorities, and moving
// the least important service first costs the important ones no hold. It
// returns "" while one of sb's services is migrating (one move at a time
// per standby) or when none qualifies.
func overloadPick(sb string, recs []recover.Record, standbys map[string]string, prio func(string) int, recent func(string) bool) string {
	var cands []string
	for _, r := range recs {
		if standbys[r.Service] != sb {
			continue
		}
		if r.Incident.Open() && r.Incident.Kind == recover.KindMigrate {
			return ""
		}
		if r.State == recover.OnStandby && !r.Incident.Open() && !recent(r.Service) {
			cands = append(cands, r.Service)
		}
	}
	if len(cands) == 0 {
		return ""
	}
	return slices.MinFunc(cands, func(a, b string) int {
		return cmp.Or(cmp.Compare(prio(a), prio(b)), cmp.Compare(a, b))
	})
}
