package monitor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/understudy/understudy/ha"
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
	prepare *preparer
	since   time.Time
	// dnsCheck clears the DNS-unverified signal once the dns.verify
	// servers catch up (dnsrecheck.go).
	dnsCheck *dnsRechecker
}

// termRetry is the pause before campaigning again after a term could not
// start (the store was unreachable, say).
const termRetry = time.Second

// leading returns the term in force, nil while following.
func (c *Controller) leading() *term {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.term
}

// leaderTerm returns the term in force, or an error wrapping errNoLeader
// while this monitor follows. Leader-only paths that act (agent calls, DNS,
// executor calls) take the term once and use its executor and epoch
// throughout, so they never mix two terms.
func (c *Controller) leaderTerm() (*term, error) {
	if t := c.leading(); t != nil {
		return t, nil
	}
	return nil, fmt.Errorf("%w here: %s follows", errNoLeader, c.name)
}

// exec returns the executor of the term in force, or of the last one once
// it ended (its calls then fail), nil before the first term. Callers are
// leader-only paths: the API forwards mutating calls while following.
func (c *Controller) exec() *executor.Executor {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.last == nil {
		return nil
	}
	return c.last.exec
}

// epoch is the fencing epoch: this monitor's while it leads, else the
// leader's as last observed (0 when unknown).
func (c *Controller) epoch() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.term != nil {
		return c.term.epoch
	}
	return uint64(c.leader.Rev)
}

// preparer returns the term's preparer, nil while following (its methods
// accept a nil receiver).
func (c *Controller) preparer() *preparer {
	if t := c.leading(); t != nil {
		return t.prepare
	}
	return nil
}

// setTerm swaps the term in force and wakes whoever waits for a change of
// role (see awaitRole).
func (c *Controller) setTerm(t *term) {
	c.mu.Lock()
	c.term = t
	if t != nil {
		c.last = t
	}
	close(c.roleChanged)
	c.roleChanged = make(chan struct{})
	c.mu.Unlock()
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
					sleepCtx(ctx, termRetry)
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
			sleepCtx(ctx, termRetry)
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
	t := &term{exec: c.newExecutor(store, epoch), epoch: epoch, since: time.Now(), prepare: newPreparer(c, epoch),
		dnsCheck: newDNSRechecker(c.dns)}
	if err := t.exec.Start(tctx); err != nil {
		c.resign(ctx)
		return fmt.Errorf("resume incidents: %w", err)
	}
	c.setTerm(t)
	if lead != nil {
		// The gauge says "this monitor acts as leader": from the term's
		// start to its end, so samples of it show any overlap.
		c.metrics.leader.Set(1)
	}
	c.syncServices() // a reload between build and now
	c.log.Info("leading", "epoch", epoch)
	var wg sync.WaitGroup
	for _, f := range []func(context.Context){t.prepare.run, c.moveLoop, c.shedRaftLeadership, c.recheckDNS(t)} {
		wg.Add(1)
		go func() { defer wg.Done(); f(tctx) }()
	}
	<-tctx.Done()
	c.setTerm(nil)
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
	if c.peer == nil {
		return
	}
	moved, err := c.peer.ShedRaftLeadership(ctx)
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

// errNoLeader answers a mutating call that no monitor can take now.
var errNoLeader = errors.New("no monitor leads")

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
