package controller

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/standby"
)

// Spares' CPU steal and load for placement: every spare with an agent
// (spares[].agent, an `understudy agent` with no services) is asked for
// GET /v1/capacity, at most once per move interval; placement ranks the
// spares by what it answers. A spare without an agent, or whose agent did
// not answer, is unknown: placement ranks it after the measured ones, and
// its reasons say why.

// spareSampleTimeout bounds one sample of a spare agent's capacity; a
// caller with a shorter deadline gives each sample at most half of it.
const spareSampleTimeout = time.Second

// spareAgentCapacity is the default source of Options.SpareCapacity: the
// spare's agent, over monitor.agent-tls. It opens a client per sample and
// closes it after (one sample per spare per move interval at most), so no
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

// spareCapacity keeps each spare's last sample so that a dry run or a
// migrate request asks each agent at most once per maxAge, and a slow or
// dead agent costs at most one bounded wait per maxAge (a failed sample is
// kept too, as unknown). Safe for concurrent use; two callers that find
// the same sample stale may both take one (harmless: a read).
type spareCapacity struct {
	mu   sync.Mutex
	last map[string]capSample // by spare name
}

// measure returns the sample of every spare of spares that has an agent,
// taking a new one, in parallel and each bounded by spareSampleTimeout (or
// half of ctx's remaining time, when shorter), of those older than maxAge
// or taken from another URL. It returns once every sample it started
// ended. Spares that left the inventory are forgotten.
func (s *spareCapacity) measure(ctx context.Context, src CapacitySource, spares []inventory.Spare, maxAge time.Duration) map[string]capSample {
	now := time.Now()
	out := map[string]capSample{}
	var stale []inventory.Spare
	s.mu.Lock()
	keep := map[string]capSample{}
	for _, sp := range spares {
		if sp.Agent == "" {
			continue
		}
		last, ok := s.last[sp.Name]
		if ok && last.agent == sp.Agent && now.Sub(last.at) < maxAge {
			out[sp.Name], keep[sp.Name] = last, last
			continue
		}
		stale = append(stale, sp)
	}
	s.last = keep
	s.mu.Unlock()
	if len(stale) == 0 {
		return out
	}
	timeout := spareSampleTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl)/2)
	}
	fresh := make([]capSample, len(stale))
	var wg sync.WaitGroup
	for i, sp := range stale {
		wg.Go(func() {
			sctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			cp, err := src.Capacity(sctx, sp.Name)
			fresh[i] = capSample{at: time.Now(), agent: sp.Agent, cap: cp, err: err}
		})
	}
	wg.Wait()
	// A failure within a budget the caller cut short is not the agent's
	// fault: it is not kept, and the next call asks again.
	keepFailures := timeout == spareSampleTimeout && ctx.Err() == nil
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, sp := range stale {
		out[sp.Name] = fresh[i]
		if fresh[i].err == nil || keepFailures {
			s.last[sp.Name] = fresh[i]
		}
	}
	return out
}

// spareCapacity returns the controller's cache of spare samples.
func (c *Controller) spareCapacity() *spareCapacity { return c.spareCap }

// spareSamples measures the inventory's spares (see spareCapacity.measure)
// through Options.SpareCapacity or their agents, with samples no older
// than the move interval.
func (c *Controller) spareSamples(ctx context.Context) map[string]capSample {
	src := c.opts.SpareCapacity
	if src == nil {
		src = spareAgentCapacity{c}
	}
	maxAge := c.opts.MoveInterval
	if maxAge <= 0 {
		maxAge = defaultMoveInterval
	}
	return c.spareCapacity().measure(ctx, src, c.plan().inv.Spares, maxAge)
}
