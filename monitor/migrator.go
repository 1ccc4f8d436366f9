package monitor

import (
	"context"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor/conns"
	"github.com/understudy/understudy/monitor/migrate"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/executor"
)

// SparePool is the address range a spare's copies get their static
// address from (see migrate.SparePool).
type SparePool = migrate.SparePool

// migrator returns the Migrator of Options or the lxd one, and what closes it.
//
// Deps.Holder stays nil: the hold step's Placement.Held reaches every proxy
// through the placement stream (httpapi/watch.go), whichever monitor serves it.
func (c *Controller) migrator() (executor.Migrator, func()) {
	if c.opts.Migrator != nil {
		return c.opts.Migrator, func() {}
	}
	m := migrate.New(migrate.Config{
		Inventory:    func() *inventory.Inventory { return c.plan().Inv },
		Records:      func() []recover.Record { return c.roles.exec().Records() },
		StandbyIncus: c.opts.StandbyIncus, SparePools: c.opts.SparePools, Logger: c.opts.Logger,
		StandbyCRIU: c.conns.StandbyCRIU, Limiter: c.bandwidth,
		SpareCRIU: func(ctx context.Context, name string) (string, error) {
			return conns.SpareCRIU(ctx, c.plan().Inv, name)
		},
	})
	return m, m.Close
}
