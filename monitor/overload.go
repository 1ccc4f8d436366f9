package monitor

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/monitor/capacity"
	"github.com/understudy/understudy/monitor/conns"
	"github.com/understudy/understudy/monitor/moves"
	"github.com/understudy/understudy/monitor/plan"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/executor"
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
type agentCapacity struct{ conns *conns.Conns }

func (a agentCapacity) Capacity(ctx context.Context, name string) (standby.Capacity, error) {
	ag, err := a.conns.Agent(name)
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

// newMovePolicy returns the move policy of a term whose executor is exec.
func (c *Controller) newMovePolicy(exec *executor.Executor) *moves.Policy {
	return moves.New(moves.Config{
		Executor: exec,
		Services: moveServices{plan: c.plan, check: c.step.Check, sample: c.sampleSpares,
			migrate: func(ctx context.Context, name, reason string) (string, error) {
				res, err := c.migrate(ctx, name, api.MigrateRequest{Reason: reason}, recover.FromPolicy)
				return res.To, err
			}},
		Overload: overloadOf{watch: c.newOverloadWatch(), views: c.vms, inventory: func() *inventory.Inventory { return c.plan().Inv }},
		Interval: c.opts.MoveInterval,
		Clock:    c.opts.Clock,
		Logger:   c.opts.Logger,
	})
}

// moveServices is what the move policy reads of the plan in force, and the
// calls it makes.
type moveServices struct {
	plan    func() *plan.Plan
	check   func(ctx context.Context, service string, addr netip.Addr) error
	migrate func(ctx context.Context, service, reason string) (string, error)
	sample  func(ctx context.Context)
}

var _ moves.Services = moveServices{}

// Service implements moves.Services.
func (m moveServices) Service(name string) (moves.Service, bool) {
	p := m.plan()
	cfg, ok := p.Services[name]
	if !ok {
		return moves.Service{}, false
	}
	out := moves.Service{AutoFailback: cfg.Moves.AutoFailback, Primary: cfg.Service.Address, Standby: p.Standbys[name], Priority: inventory.DefaultPriority}
	if s := p.Inv.Service(name); s != nil {
		out.Priority = s.Priority
	}
	return out, true
}

// Check implements moves.Services.
func (m moveServices) Check(ctx context.Context, service string, addr netip.Addr) error {
	return m.check(ctx, service, addr)
}

// Migrate implements moves.Services.
func (m moveServices) Migrate(ctx context.Context, service, reason string) (string, error) {
	return m.migrate(ctx, service, reason)
}

// SampleSpares implements moves.Services.
func (m moveServices) SampleSpares(ctx context.Context) { m.sample(ctx) }

// overloadOf is the move policy's view of the standbys' overload watch.
type overloadOf struct {
	watch     *capacity.Watch
	views     *capacity.Standbys
	inventory func() *inventory.Inventory
}

var _ moves.Overload = overloadOf{}

func (o overloadOf) Sample(ctx context.Context, now time.Time) {
	o.watch.Sample(ctx, o.inventory(), now)
}
func (o overloadOf) Overloaded() map[string]string { return o.views.Overloaded() }
func (o overloadOf) Moved(standby string)          { o.watch.Moved(standby) }
func (o overloadOf) Forget()                       { o.watch.Forget() }
