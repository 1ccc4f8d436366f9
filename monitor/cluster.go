package monitor

import (
	"context"
	"net"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor/cluster"
	"github.com/understudy/understudy/recover/store"
)

// openStore opens the shared store and, unless Options.Store replaces it,
// the etcd behind it (package cluster); what must be closed is appended to
// closers.
func (c *Controller) openStore(ctx context.Context, inv *inventory.Inventory, closers *[]func()) error {
	if c.opts.Store != nil {
		c.store = c.opts.Store
		return nil
	}
	cl, err := cluster.Open(ctx, cluster.Config{Inventory: inv, Etcd: c.opts.Etcd, Peers: c.opts.Peers, Logger: c.opts.Logger})
	if err != nil {
		return err
	}
	*closers = append(*closers, cl.Close)
	c.cluster, c.etcdStore, c.store = cl, cl.Store, cl.Store
	return nil
}

// openElector joins the monitors' election under this monitor's name and
// API address; without etcd (Options.Store) there is no election and this
// monitor always leads.
func (c *Controller) openElector(ctx context.Context, listen net.Addr) (func(), error) {
	if c.cluster == nil {
		return func() {}, nil
	}
	el, closeEl, err := c.cluster.Elector(ctx, c.name, cluster.Advertise(c.opts.Advertise, listen), c.opts.LeaseTTL)
	if err != nil {
		return nil, err
	}
	c.elector = el
	return closeEl, nil
}

// takeEpoch takes the epoch of a term (cluster.TakeEpoch), asking the
// agents that report theirs.
func (c *Controller) takeEpoch(ctx context.Context, st store.Store) (uint64, error) {
	agents := map[string]cluster.EpochReporter{}
	for _, sb := range c.plan().Inv.Standby {
		if a, err := c.conns.Agent(sb.Name); err == nil {
			if r, ok := a.(cluster.EpochReporter); ok {
				agents[sb.Name] = r
			}
		}
	}
	return cluster.TakeEpoch(ctx, st, agents, c.log)
}
