// Package admission is the monitor's side of a full standby VM: before a
// failed service's container starts on its standby, the Gate decides with
// the agent's live capacity, by priority (monitor/capacity/admit), whether
// the standby takes it now; it bounds the activations that run at once
// (monitor.max-parallel-activations), the highest priority first; and when
// capacity frees it re-arms the waiting services in priority order.
//
// A service the standby cannot take is refused before anything starts (no
// container started, nothing flipped): its activate step fails permanently
// with ErrUnprotected, so its incident stops with the reason
// ("unprotected: no capacity (needs 512 MiB, 128 MiB free)"), which
// `understudy status`, the webhook's stuck alert and the metric
// understudy_monitor_service_unprotected_no_capacity show. Run re-arms it (a new trigger of the
// monitor) once the standby's capacity would admit it.
//
// The Gate keeps only what is in flight in memory: which services failed
// and wait for their activate step (Register), and which are being
// activated. Who waits for capacity is read from the incidents (Waiting),
// so a new leader picks them up.
package admission

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/understudy/understudy/internal/clock"
	"github.com/understudy/understudy/monitor/capacity/admit"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/standby"
)

// ErrUnprotected marks an activation refused for capacity; it is
// recover.ErrUnprotected, and the refusal is a *recover.UnprotectedError
// whose reason the executor records on the incident's step
// (recover.Incident.UnprotectedReason).
var ErrUnprotected = recover.ErrUnprotected

// Agent is what the gate needs of a standby agent (*standby.Client).
type Agent interface {
	Capacity(ctx context.Context) (standby.Capacity, error)
	Services(ctx context.Context) ([]standby.ServiceStatus, error)
}

// Agents returns the agent client of a standby VM. Safe for concurrent use.
type Agents interface {
	Agent(standby string) (Agent, error)
}

// Service is what the gate knows of a service from the plan in force.
type Service struct {
	Standby  string
	Priority int
	Memory   int64
	// Warm services always run on their standby: they keep their place
	// and need no admission, only an activation slot.
	Warm bool
}

// Config is what New needs.
type Config struct {
	// Services returns the services of the plan in force, by name.
	Services func() map[string]Service
	// Limit returns monitor.max-parallel-activations of the plan in force.
	Limit  func() int
	Agents Agents
	// Waiting returns the services whose incident stopped for capacity
	// (see ReasonOf), the ones Run may re-arm.
	Waiting func() []string
	// Rearm sends the monitor's trigger that runs a waiting service's
	// activate step again.
	Rearm func(ctx context.Context, service, reason string) error
	Clock clock.Clock
	Log   *slog.Logger
	// Settle returns how long after the latest failure a decision that
	// must refuse someone waits for the rest of a host's failures (the
	// probe engine spreads its targets over one interval): the monitor's
	// interval plus its timeout. Zero decides at once.
	Settle func() time.Duration
	// Every is how often Run looks without being told that capacity freed
	// (default 5 s). PendingTTL is how long a registered failure counts as
	// waiting for its activate step (default 2 min).
	Every, PendingTTL time.Duration
}

// Gate admits activations. Safe for concurrent use.
type Gate struct {
	cfg Config
	// per serializes the decisions of one standby.
	per sync.Map // standby → *sync.Mutex

	mu       sync.Mutex
	pending  map[string]time.Time // failed, its activate step not reached yet
	last     time.Time            // the latest Register
	inflight map[string]string    // admitted and activating → standby
	slots    slots
	freed    chan struct{}
}

// New returns the gate of cfg.
func New(cfg Config) *Gate {
	if cfg.Clock == nil {
		cfg.Clock = clock.Wall
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Every <= 0 {
		cfg.Every = 5 * time.Second
	}
	if cfg.PendingTTL <= 0 {
		cfg.PendingTTL = 2 * time.Minute
	}
	return &Gate{cfg: cfg, pending: map[string]time.Time{}, inflight: map[string]string{}, freed: make(chan struct{}, 1)}
}

// Register notes services that just failed (one host's, say), so that the
// first of them to reach its activate step does not take a place a service
// of higher priority among them needs.
func (g *Gate) Register(services ...string) {
	now := g.cfg.Clock.Now()
	g.mu.Lock()
	for _, s := range services {
		g.pending[s] = now
	}
	if len(services) > 0 {
		g.last = now
	}
	g.mu.Unlock()
}

// Forget drops services that recovered on their own, were reset, or whose
// incident closed without reaching its activate step.
func (g *Gate) Forget(services ...string) {
	g.mu.Lock()
	for _, s := range services {
		delete(g.pending, s)
	}
	g.mu.Unlock()
}

// Pending reports whether service is registered as failed and has not
// reached its activate step (it holds its place among a host's failures).
func (g *Gate) Pending(service string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.pending[service]
	return ok
}

// Freed tells Run that capacity may have freed (a container left a standby).
func (g *Gate) Freed() {
	select {
	case g.freed <- struct{}{}:
	default:
	}
}

// Admit decides whether service's standby takes it now and waits for an
// activation slot. It returns a release to call when the activation
// returned (ok: the container runs), or an error wrapping ErrUnprotected
// (and recover.ErrPermanent: the step must not be retried) when the standby
// cannot take it, or the context's error. A service the
// plan does not know is passed through (the activation reports it).
func (g *Gate) Admit(ctx context.Context, service string) (release func(ok bool), err error) {
	svc, known := g.cfg.Services()[service]
	if known && !svc.Warm {
		if err := g.decide(ctx, service, svc); err != nil {
			return nil, err
		}
	}
	prio := svc.Priority
	if err := g.slots.acquire(ctx, prio, g.cfg.Limit); err != nil {
		g.done(service, false)
		return nil, err
	}
	return func(ok bool) {
		g.slots.release(g.cfg.Limit)
		g.done(service, ok)
	}, nil
}

// done ends an admitted activation; a failed one gives its place back.
func (g *Gate) done(service string, ok bool) {
	g.mu.Lock()
	_, had := g.inflight[service]
	delete(g.inflight, service)
	g.mu.Unlock()
	if had && !ok {
		g.Freed()
	}
}

// decide admits service (not warm) on its standby or refuses it.
func (g *Gate) decide(ctx context.Context, service string, svc Service) error {
	mu := g.lock(svc.Standby)
	mu.Lock()
	defer mu.Unlock()
	g.mu.Lock()
	if _, ok := g.pending[service]; !ok {
		g.pending[service] = g.cfg.Clock.Now()
	}
	g.mu.Unlock()
	d, err := g.decision(ctx, svc.Standby, []string{service})
	if err == nil && g.tight(ctx, svc, d) {
		// Someone would be refused: let the rest of the host's failures
		// arrive first, so the places go by priority, not by who came first.
		if err := g.settle(ctx); err != nil {
			return err
		}
		d, err = g.decision(ctx, svc.Standby, []string{service})
	}
	if err != nil {
		// The agent's own reservation still guards its capacity.
		g.cfg.Log.Warn("admission: standby capacity unknown, leaving the decision to the agent", "standby", svc.Standby, "service", service, "err", err)
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.pending, service)
	if slices.Contains(d.Admitted, service) {
		g.inflight[service] = svc.Standby
		return nil
	}
	for _, r := range d.Refused {
		if r.Service == service {
			return fmt.Errorf("standby %q: %w: %w", svc.Standby, recover.ErrPermanent, &recover.UnprotectedError{Reason: r.Reason()})
		}
	}
	return nil // already running there
}

// lock returns the decision lock of a standby.
func (g *Gate) lock(name string) *sync.Mutex {
	mu, _ := g.per.LoadOrStore(name, &sync.Mutex{})
	return mu.(*sync.Mutex)
}

// tight reports whether the standby cannot take every service that might
// want it now: the known candidates (d) and the other cold services it
// protects that have not failed (yet): a whole host, or both hosts of a
// zone, reach the monitor over one probe interval.
func (g *Gate) tight(ctx context.Context, svc Service, d admit.Decision) bool {
	if g.cfg.Settle == nil || g.cfg.Settle() <= 0 {
		return false
	}
	if len(d.Refused) > 0 {
		return true
	}
	var siblings []string
	for name, o := range g.cfg.Services() {
		if o.Standby == svc.Standby && !o.Warm && !slices.Contains(d.Admitted, name) {
			siblings = append(siblings, name)
		}
	}
	if len(siblings) == 0 {
		return false
	}
	all, err := g.decision(ctx, svc.Standby, append(siblings, d.Admitted...))
	return err == nil && len(all.Refused) > 0
}

// settle waits until no failure was registered for Settle (at most four
// times that, so a stream of failures cannot hold a decision forever).
func (g *Gate) settle(ctx context.Context) error {
	d := g.cfg.Settle()
	deadline := g.cfg.Clock.Now().Add(4 * d)
	for {
		g.mu.Lock()
		quiet := g.last.Add(d)
		g.mu.Unlock()
		now := g.cfg.Clock.Now()
		wait := min(quiet.Sub(now), deadline.Sub(now))
		if wait <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-g.cfg.Clock.After(wait):
		}
	}
}
