package monitor

import (
	"context"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor/conns"
)

// sampleSpares samples the inventory's spares (see capacity.Spares.Sample)
// through Options.SpareCapacity or their agents (conns.SpareCapacity); the
// move loop calls it.
func (c *Controller) sampleSpares(ctx context.Context) {
	src := c.opts.SpareCapacity
	if src == nil {
		src = conns.SpareCapacity{Inventory: func() *inventory.Inventory { return c.plan().Inv }}
	}
	c.spareCap.Sample(ctx, src, c.plan().Inv.Spares)
}
