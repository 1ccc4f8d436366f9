package monitor

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor/capacity"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/standby"
)

// CapacitySource reads what a standby or spare VM's agent reports about
// its load and CPU steal (GET /v1/capacity); see capacity.Source. The
// default asks the agent clients the controller already holds; tests pass
// a fake.
type CapacitySource = capacity.Source

// capacityReader is the part of *standby.Client the default source uses.
type capacityReader interface {
	Capacity(ctx context.Context) (standby.Capacity, error)
}

// agentCapacity is the default CapacitySource: the standby agents.
type agentCapacity struct{ conns *conns }

func (a agentCapacity) Capacity(ctx context.Context, name string) (standby.Capacity, error) {
	ag, err := a.conns.agent(name)
	if err != nil {
		return standby.Capacity{}, err
	}
	r, ok := ag.(capacityReader)
	if !ok {
		return standby.Capacity{}, fmt.Errorf("standby %q: %w", name, capacity.ErrNoCapacity)
	}
	return r.Capacity(ctx)
}

// newOverloadWatch returns the overload watch of the controller's standbys.
func (c *Controller) newOverloadWatch() *capacity.Watch {
	src := c.opts.Capacity
	if src == nil {
		src = agentCapacity{c.conns}
	}
	return capacity.NewWatch(src, c.vms, c.log)
}

// overloadFacts samples the standbys and, for each overloaded one, marks
// the one service that should move off it first as Overloaded in facts
// (see overloadPick).
func (c *Controller) overloadFacts(ctx context.Context, st moveState, facts map[string]recover.Facts) {
	st.overload.Sample(ctx, c.plan().inv, time.Now())
	over := c.vms.Overloaded()
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
