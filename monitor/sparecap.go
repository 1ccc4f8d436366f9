package monitor

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/standby"
)

// Spares' CPU steal and load for placement: at each look at the move
// policies the leader asks every spare with an agent (spares[].agent, an
// `understudy agent` with no services) for GET /v1/capacity, and placement
// ranks the spares by the last answers. A spare without an agent, whose
// agent did not answer, or not sampled yet is unknown: placement ranks it
// after the measured ones, and its reasons say why.

// spareSampleTimeout bounds one sample of a spare agent's capacity.
const spareSampleTimeout = time.Second

// spareAgentCapacity is the default source of Options.SpareCapacity: the
// spare's agent, over monitor.agent-tls. It opens a client per sample and
// closes it after (one sample per spare per move interval), so no
// connection outlives the sample.
type spareAgentCapacity struct{ c *Controller }

var _ CapacitySource = spareAgentCapacity{}

// Capacity implements CapacitySource for the spare named name.
func (s spareAgentCapacity) Capacity(ctx context.Context, name string) (standby.Capacity, error) {
	inv := s.c.plan().inv
	sp := inv.Spare(name)
	if sp == nil || sp.Agent == "" {
		return standby.Capacity{}, fmt.Errorf("spare %q has no agent in the inventory", name)
	}
	files := inv.Monitor.AgentTLS
	if files.IsZero() {
		return standby.Capacity{}, fmt.Errorf("spare %q: monitor.agent-tls is not set; agents require mutual TLS", name)
	}
	cfg, err := standby.ClientTLSConfig(files.CA, files.Cert, files.Key)
	if err != nil {
		return standby.Capacity{}, fmt.Errorf("spare %q: load monitor.agent-tls: %w", name, err)
	}
	cl := standby.NewClient(sp.Agent, cfg)
	defer cl.Close()
	cp, err := cl.Capacity(ctx)
	if err != nil {
		return standby.Capacity{}, fmt.Errorf("read capacity of spare %q: %w", name, err)
	}
	return cp, nil
}

// capSample is an agent's last capacity answer, or why there is none.
type capSample struct {
	at    time.Time
	agent string // the URL it was asked at: a changed URL samples anew
	cap   standby.Capacity
	err   error
}

// stealAndLoad is what placement and the status take from a sample: steal
// in percent and the 1-minute load per CPU, or why they are unknown.
func (s capSample) stealAndLoad() (steal, load1 float64, unknown string) {
	switch {
	case s.err != nil:
		return 0, 0, fmt.Sprintf("no answer from its agent: %v", s.err)
	case s.cap.CPUs <= 0:
		return 0, 0, "its agent reported no CPUs"
	case s.cap.StealIntervalMS <= 0:
		return 0, 0, "its agent has not sampled CPU steal yet"
	}
	return s.cap.StealPercent, s.cap.Load[0] / float64(s.cap.CPUs), ""
}

// spareCapacity keeps each spare's last sample, written by the move loop
// and read by placement and the status. Safe for concurrent use.
type spareCapacity struct {
	mu   sync.Mutex
	last map[string]capSample // by spare name
}

// sample asks every spare of spares that has an agent, in parallel, each
// for at most spareSampleTimeout, and keeps the answers (errors too, which
// make the spare unknown). Spares that left the inventory, or lost their
// agent, are forgotten.
func (s *spareCapacity) sample(ctx context.Context, src CapacitySource, spares []inventory.Spare) {
	fresh := make([]capSample, len(spares))
	var wg sync.WaitGroup
	for i, sp := range spares {
		if sp.Agent == "" {
			continue
		}
		wg.Go(func() {
			sctx, cancel := context.WithTimeout(ctx, spareSampleTimeout)
			defer cancel()
			cp, err := src.Capacity(sctx, sp.Name)
			fresh[i] = capSample{at: time.Now(), agent: sp.Agent, cap: cp, err: err}
		})
	}
	wg.Wait()
	last := map[string]capSample{}
	for i, sp := range spares {
		if sp.Agent != "" {
			last[sp.Name] = fresh[i]
		}
	}
	s.mu.Lock()
	s.last = last
	s.mu.Unlock()
}

// samples returns the last sample of every spare that has one.
func (s *spareCapacity) samples() map[string]capSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]capSample, len(s.last))
	for name, v := range s.last {
		out[name] = v
	}
	return out
}

// spareCapacity returns the controller's cache of spare samples.
func (c *Controller) spareCapacity() *spareCapacity { return c.spareCap }

// sampleSpares samples the inventory's spares (see spareCapacity.sample)
// through Options.SpareCapacity or their agents; the move loop calls it.
func (c *Controller) sampleSpares(ctx context.Context) {
	src := c.opts.SpareCapacity
	if src == nil {
		src = spareAgentCapacity{c}
	}
	c.spareCapacity().sample(ctx, src, c.plan().inv.Spares)
}
