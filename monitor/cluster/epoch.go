package cluster

import (
	"context"
	"log/slog"
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

// EpochReporter is an agent that reports the highest epoch it accepted
// (standby.Client, in GET /v1/health). The agents persist it.
type EpochReporter interface {
	Health(ctx context.Context) (standby.Health, error)
}

// agentEpochWait bounds how long a new cluster's first term waits for the
// agents to report their epochs.
const agentEpochWait = 3 * time.Second

// TakeEpoch takes the epoch of a term from st. On a new cluster (no epoch stored
// yet: a first start, or an etcd rebuilt from scratch) it starts above the
// highest epoch any agent reports: the agents refuse an epoch lower than
// the one they hold, so a rebuilt etcd would otherwise have every
// activation refused as stale.
func TakeEpoch(ctx context.Context, st store.Store, agents map[string]EpochReporter, log *slog.Logger) (uint64, error) {
	fl, ok := st.(epochFloorer)
	if !ok {
		return st.NextEpoch(ctx)
	}
	cur, err := fl.CurrentEpoch(ctx)
	if err != nil {
		return 0, err
	}
	if cur > 0 {
		return st.NextEpoch(ctx)
	}
	top, from := highestAgentEpoch(ctx, agents, log)
	switch {
	case top == 0:
		return st.NextEpoch(ctx)
	case top == math.MaxUint64:
		log.Error("an agent holds the largest epoch there is; no monitor can act on it until its state is reset", "agent", from)
		return st.NextEpoch(ctx)
	}
	log.Warn("a new cluster: starting the epoch above the agents'", "agent", from, "agent_epoch", top)
	return fl.RaiseEpoch(ctx, top+1)
}

// highestAgentEpoch asks every agent at once for its epoch, within
// agentEpochWait, and returns the highest and which agent holds it. An
// agent that does not answer is skipped (and logged).
func highestAgentEpoch(ctx context.Context, agents map[string]EpochReporter, log *slog.Logger) (uint64, string) {
	ctx, cancel := context.WithTimeout(ctx, agentEpochWait)
	defer cancel()
	var (
		mu   sync.Mutex
		top  uint64
		from string
		wg   sync.WaitGroup
	)
	for name, r := range agents {
		wg.Go(func() {
			h, err := r.Health(ctx)
			if err != nil {
				log.Warn("agent's epoch unknown; a new cluster's epoch may start below it", "agent", name, "err", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if h.Epoch > top {
				top, from = h.Epoch, name
			}
		})
	}
	wg.Wait()
	return top, from
}
