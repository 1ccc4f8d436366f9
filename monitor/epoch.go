package monitor

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/understudy/understudy/recover/store"
	"github.com/understudy/understudy/standby"
)

// epochFloorer is a store whose epoch can start above a floor (ha.Store).
type epochFloorer interface {
	CurrentEpoch(ctx context.Context) (uint64, error)
	RaiseEpoch(ctx context.Context, floor uint64) (uint64, error)
}

// epochReporter is an agent that reports the highest epoch it accepted
// (standby.Client, in GET /v1/health). The agents persist it.
type epochReporter interface {
	Health(ctx context.Context) (standby.Health, error)
}

// agentEpochWait bounds how long a new cluster's first term waits for the
// agents to report their epochs.
const agentEpochWait = 3 * time.Second

// takeEpoch takes the epoch of a term. On a new cluster (no epoch stored
// yet: a first start, or an etcd rebuilt from scratch) it starts above the
// highest epoch any agent reports: the agents refuse an epoch lower than
// the one they hold, so a rebuilt etcd would otherwise have every
// activation refused as stale.
func (c *Controller) takeEpoch(ctx context.Context, store store.Store) (uint64, error) {
	fl, ok := store.(epochFloorer)
	if !ok {
		return store.NextEpoch(ctx)
	}
	cur, err := fl.CurrentEpoch(ctx)
	if err != nil {
		return 0, err
	}
	if cur > 0 {
		return store.NextEpoch(ctx)
	}
	top, from := c.highestAgentEpoch(ctx)
	switch {
	case top == 0:
		return store.NextEpoch(ctx)
	case top == math.MaxUint64:
		c.log.Error("an agent holds the largest epoch there is; no monitor can act on it until its state is reset", "agent", from)
		return store.NextEpoch(ctx)
	}
	c.log.Warn("a new cluster: starting the epoch above the agents'", "agent", from, "agent_epoch", top)
	return fl.RaiseEpoch(ctx, top+1)
}

// highestAgentEpoch asks every agent at once for its epoch, within
// agentEpochWait, and returns the highest and which agent holds it. An
// agent that does not answer is skipped (and logged).
func (c *Controller) highestAgentEpoch(ctx context.Context) (uint64, string) {
	ctx, cancel := context.WithTimeout(ctx, agentEpochWait)
	defer cancel()
	var (
		mu   sync.Mutex
		top  uint64
		from string
		wg   sync.WaitGroup
	)
	for _, sb := range c.plan().Inv.Standby {
		a, err := c.conns.Agent(sb.Name)
		if err != nil {
			continue
		}
		r, ok := a.(epochReporter)
		if !ok {
			continue
		}
		wg.Go(func() {
			h, err := r.Health(ctx)
			if err != nil {
				c.log.Warn("agent's epoch unknown; a new cluster's epoch may start below it", "agent", sb.Name, "err", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if h.Epoch > top {
				top, from = h.Epoch, sb.Name
			}
		})
	}
	wg.Wait()
	return top, from
}
