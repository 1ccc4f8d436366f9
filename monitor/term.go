package monitor

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/understudy/understudy/ha"
	"github.com/understudy/understudy/internal/clock"
	"github.com/understudy/understudy/monitor/httpapi"
	"github.com/understudy/understudy/monitor/prepare"
	"github.com/understudy/understudy/monitor/signals"
	"github.com/understudy/understudy/recover/executor"
	"github.com/understudy/understudy/recover/store"
)

// term is one stretch of this monitor leading: the executor, the store it
// writes through (guarded by the leader key), the epoch it sends to agents,
// and the preparer that pushes the services' specs under that epoch. A
// follower has no term; it probes, serves reads and forwards the rest.
type term struct {
	exec    *executor.Executor
	epoch   uint64
	prepare *prepare.Preparer
	since   time.Time
	// dnsCheck clears the DNS-unverified signal once the dns.verify
	// servers catch up (package signals).
	dnsCheck *signals.Rechecker
}

// termRetry is the pause before campaigning again after a term could not
// start (the store was unreachable, say).
const termRetry = time.Second

// preparer returns the term's preparer, nil while following (its methods
// accept a nil receiver).
func (c *Controller) preparer() *prepare.Preparer {
	if t := c.roles.leading(); t != nil {
		return t.prepare
	}
	return nil
}

// leadLoop campaigns, leads until the leadership ends, and campaigns again,
// until ctx ends. Without an elector (Options.Store) it leads once, for as
// long as ctx lasts.
func (c *Controller) leadLoop(ctx context.Context) {
	for ctx.Err() == nil {
		var lead *ha.Leadership
		store := c.opts.Store
		if c.elector != nil {
			var err error
			if lead, err = c.elector.Campaign(ctx); err != nil {
				if ctx.Err() == nil {
					c.log.Warn("campaign for leadership", "err", err)
					sleepCtx(ctx, c.opts.Clock, termRetry)
				}
				continue
			}
			store = ha.NewStore(c.etcdStore, lead)
		}
		err := c.lead(ctx, store, lead)
		// Before the pause: a term that could not start does not lead
		// while this monitor waits to campaign again.
		c.metrics.leader.Set(0)
		if err != nil && ctx.Err() == nil {
			c.log.Error("leadership ended with an error", "err", err)
			sleepCtx(ctx, c.opts.Clock, termRetry)
		}
	}
}

// lead runs one term: takes the epoch, starts the executor (which resumes
// the open incidents from the store), the preparer and the move loop, and
// stops them all when the leadership or ctx ends. lead is nil without an
// elector.
func (c *Controller) lead(ctx context.Context, store store.Store, lead *ha.Leadership) error {
	var tctx context.Context
	var stop context.CancelFunc
	if lead != nil {
		tctx, stop = lead.Context(ctx)
	} else {
		tctx, stop = context.WithCancel(ctx)
	}
	defer stop()
	epoch, err := c.takeEpoch(tctx, store)
	if err != nil {
		c.resign(ctx)
		return fmt.Errorf("take the next epoch: %w", err)
	}
	t := &term{exec: c.newExecutor(store, epoch), epoch: epoch, since: c.opts.Clock.Now(), prepare: c.newPreparer(epoch),
		dnsCheck: signals.NewRechecker(c.dns, c.opts.Clock)}
	if err := t.exec.Start(tctx); err != nil {
		c.resign(ctx)
		return fmt.Errorf("resume incidents: %w", err)
	}
	c.roles.set(t)
	if lead != nil {
		// The gauge says "this monitor acts as leader": from the term's
		// start to its end, so samples of it show any overlap.
		c.metrics.leader.Set(1)
	}
	c.syncServices() // a reload between build and now
	c.log.Info("leading", "epoch", epoch)
	var wg sync.WaitGroup
	for _, f := range []func(context.Context){t.prepare.Run, c.newMovePolicy(t.exec).Run, c.shedRaftLeadership, c.recheckDNS(t), c.gate.Run} {
		wg.Add(1)
		go func() { defer wg.Done(); f(tctx) }()
	}
	<-tctx.Done()
	c.roles.set(nil)
	// The gauge drops when the term stops acting, not once its executor
	// has wound down: samples of it show when leaderships overlap.
	c.metrics.leader.Set(0)
	if lead != nil && lead.Lost() != "" && ctx.Err() == nil {
		c.log.Warn("no longer leading", "epoch", epoch, "why", lead.Lost())
	} else {
		c.log.Info("no longer leading: stopping", "epoch", epoch)
	}
	wg.Wait()
	t.exec.Wait()
	return nil
}

// shedRaftLeadership moves etcd's raft leadership off this monitor's own
// etcd member (--peers), so that this process dying does not also cost the
// cluster its raft leader, which would add about a TTL to the takeover
// (see ha.Peer.ShedRaftLeadership).
func (c *Controller) shedRaftLeadership(ctx context.Context) {
	if c.cluster == nil || c.cluster.Peer == nil {
		return
	}
	moved, err := c.cluster.Peer.ShedRaftLeadership(ctx)
	switch {
	case err != nil && ctx.Err() == nil:
		c.log.Warn("could not hand etcd's raft leadership to another member", "err", err)
	case moved:
		c.log.Info("handed etcd's raft leadership to another member")
	}
}

// resign hands leadership over after a term failed to start, so that a
// healthier monitor can lead.
func (c *Controller) resign(ctx context.Context) {
	if c.elector == nil {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := c.elector.Resign(rctx); err != nil {
		c.log.Warn("resign", "err", err)
	}
}

// errNoLeader answers a mutating call that no monitor can take now (the
// API answers it with 503).
var errNoLeader = httpapi.ErrNoLeader

// sleepCtx waits d on clk or until ctx ends.
func sleepCtx(ctx context.Context, clk clock.Clock, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-clk.After(d):
	}
}

// newPreparer returns the standby preparer of a term under epoch.
func (c *Controller) newPreparer(epoch uint64) *prepare.Preparer {
	return prepare.New(prepare.Config{
		Services: prepareView{plan: c.plan, exec: c.roles.exec}, Agents: agentsAs[prepare.Agent]{c.conns},
		Epoch: epoch, Retry: c.opts.PrepareRetry, Results: c.metrics.prepares, Clock: c.opts.Clock, Logger: c.opts.Logger,
	})
}
