package monitor

import (
	"context"
	"fmt"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/standby"
)

// spareAgentCapacity is the default source of Options.SpareCapacity: the
// spare's agent, over monitor.agent-tls. It opens a client per sample and
// closes it after (one sample per spare per move interval), so no
// connection outlives the sample.
type spareAgentCapacity struct {
	inventory func() *inventory.Inventory // in force
}

var _ CapacitySource = spareAgentCapacity{}

// Capacity implements CapacitySource for the spare named name.
func (s spareAgentCapacity) Capacity(ctx context.Context, name string) (standby.Capacity, error) {
	cl, err := openSpareAgent(s.inventory(), name)
	if err != nil {
		return standby.Capacity{}, err
	}
	defer cl.Close()
	cp, err := cl.Capacity(ctx)
	if err != nil {
		return standby.Capacity{}, fmt.Errorf("read capacity of spare %q: %w", name, err)
	}
	return cp, nil
}

// sampleSpares samples the inventory's spares (see capacity.Spares.Sample)
// through Options.SpareCapacity or their agents; the move loop calls it.
func (c *Controller) sampleSpares(ctx context.Context) {
	src := c.opts.SpareCapacity
	if src == nil {
		src = spareAgentCapacity{inventory: func() *inventory.Inventory { return c.plan().Inv }}
	}
	c.spareCap.Sample(ctx, src, c.plan().Inv.Spares)
}
