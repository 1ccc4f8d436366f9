package capacity

import (
	"context"
	"sync"
	"time"

	"github.com/understudy/understudy/inventory"
)

// Spares' CPU steal and load for spare ranking: at each look at the move
// policies the leader asks every spare with an agent (spares[].agent, an
// `understudy agent` with no services) for GET /v1/capacity, and spare
// ranking orders the spares by the last answers. A spare without an agent,
// whose agent did not answer, or not sampled yet is unknown: spare ranking
// puts it after the measured ones, and its reasons say why.

// SpareSampleTimeout bounds one sample of a spare agent's capacity.
const SpareSampleTimeout = time.Second

// Spares keeps each spare's last sample, written by the move loop and read
// by spare ranking and the status. Safe for concurrent use.
type Spares struct {
	mu   sync.Mutex
	last map[string]Sample // by spare name
}

// NewSpares returns an empty cache.
func NewSpares() *Spares { return &Spares{last: map[string]Sample{}} }

// Sample asks every spare of spares that has an agent, in parallel, each
// for at most SpareSampleTimeout, and keeps the answers (errors too, which
// make the spare unknown). Spares that left the inventory, or lost their
// agent, are forgotten.
func (s *Spares) Sample(ctx context.Context, src Source, spares []inventory.Spare) {
	fresh := make([]Sample, len(spares))
	var wg sync.WaitGroup
	for i, sp := range spares {
		if sp.Agent == "" {
			continue
		}
		wg.Go(func() {
			sctx, cancel := context.WithTimeout(ctx, SpareSampleTimeout)
			defer cancel()
			cp, err := src.Capacity(sctx, sp.Name)
			fresh[i] = Sample{At: time.Now(), Agent: sp.Agent, Cap: cp, Err: err}
		})
	}
	wg.Wait()
	last := map[string]Sample{}
	for i, sp := range spares {
		if sp.Agent != "" {
			last[sp.Name] = fresh[i]
		}
	}
	s.mu.Lock()
	s.last = last
	s.mu.Unlock()
}

// Samples returns the last sample of every spare that has one.
func (s *Spares) Samples() map[string]Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Sample, len(s.last))
	for name, v := range s.last {
		out[name] = v
	}
	return out
}
