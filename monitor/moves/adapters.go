package moves

import (
	"context"
	"net/netip"
	"time"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor/capacity"
	"github.com/understudy/understudy/monitor/plan"
)

// PlanServices is Services over the daemon's plan in force (Plan) and the
// calls the daemon makes for the policy.
type PlanServices struct {
	Plan        func() *plan.Plan
	CheckFunc   func(ctx context.Context, service string, addr netip.Addr) error
	MigrateFunc func(ctx context.Context, service, reason string) (string, error)
	SampleFunc  func(ctx context.Context)
}

var _ Services = PlanServices{}

// Service implements Services.
func (m PlanServices) Service(name string) (Service, bool) {
	p := m.Plan()
	cfg, ok := p.Services[name]
	if !ok {
		return Service{}, false
	}
	out := Service{AutoFailback: cfg.Moves.AutoFailback, Primary: cfg.Service.Address, Standby: p.Standbys[name], Priority: inventory.DefaultPriority}
	if s := p.Inv.Service(name); s != nil {
		out.Priority, out.Pinned = s.Priority, s.Pinned
	}
	return out, true
}

// Check implements Services.
func (m PlanServices) Check(ctx context.Context, service string, addr netip.Addr) error {
	return m.CheckFunc(ctx, service, addr)
}

// Migrate implements Services.
func (m PlanServices) Migrate(ctx context.Context, service, reason string) (string, error) {
	return m.MigrateFunc(ctx, service, reason)
}

// SampleSpares implements Services.
func (m PlanServices) SampleSpares(ctx context.Context) { m.SampleFunc(ctx) }

// WatchOverload is Overload over the daemon's overload watch of the
// standbys of the inventory in force.
type WatchOverload struct {
	Watch     *capacity.Watch
	Views     *capacity.Standbys
	Inventory func() *inventory.Inventory
}

var _ Overload = WatchOverload{}

// Sample implements Overload.
func (o WatchOverload) Sample(ctx context.Context, now time.Time) {
	o.Watch.Sample(ctx, o.Inventory(), now)
}

// Overloaded implements Overload.
func (o WatchOverload) Overloaded() map[string]string { return o.Views.Overloaded() }

// Shares implements Overload.
func (o WatchOverload) Shares(standby string) map[string]float64 {
	s, trigger, ok := o.Views.Last(standby)
	if !ok {
		return nil
	}
	return capacity.Shares(s, trigger)
}

// Moved implements Overload.
func (o WatchOverload) Moved(standby, service string) { o.Watch.Moved(standby, service) }

// Forget implements Overload.
func (o WatchOverload) Forget() { o.Watch.Forget() }
