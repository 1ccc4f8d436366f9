package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/understudy/understudy/internal/clock"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/store"
)

// ErrUnknownService: a trigger or reset names a service the executor has no
// configuration for.
var ErrUnknownService = errors.New("unknown service")

// ErrStopped answers a call the executor cannot finish because it stopped
// (its monitor's term ended).
var ErrStopped = errors.New("executor stopped")

// ErrStuck answers a reset that ended with the incident stuck.
var ErrStuck = errors.New("incident stuck")

// Config is what an Executor needs.
type Config struct {
	Store    store.Store
	Deps     Deps
	Services map[string]recover.Config // by service name
	// Epoch is this monitor's epoch (Store.NextEpoch at start); it overrides
	// the services' Config.Epoch when not zero.
	Epoch uint64
	// Flap is the flap damping policy of services whose Config sets none.
	Flap recover.FlapPolicy
	// Clock tells the time events carry and waits for deadlines, backoffs
	// and retries (default clock.Wall).
	Clock   clock.Clock
	Logger  *slog.Logger // default slog.Default()
	Metrics *Metrics     // nil: no metrics
	// AlertURL is the webhook for alerts (stuck, unfenced, unprotected; see
	// Alert) and for notify steps without a url, POSTed through
	// Deps.Notifier with an Idempotency-Key. Empty: alerts are only logged
	// and such notify steps are skipped.
	AlertURL string
	// Jitter returns a random duration in [0, d), taken off step retries'
	// backoffs (default: uniform random); see Config.Jitter.
	Jitter func(d time.Duration) time.Duration
	// HealthInterval is the pause between checks in wait-healthy (default 100ms).
	HealthInterval time.Duration
	// SaveRetry is the pause between attempts to persist a record (default 500ms).
	SaveRetry time.Duration
	// OnSave, when set, is called with every record after it was persisted
	// (status pages, tests). It runs on the incident's goroutine: keep it short.
	OnSave func(recover.Record)
	// MaxMigrations is the most migrations running at once (default 1):
	// Migrate waits for a free slot. A burst of copies at peak time floods
	// the network.
	MaxMigrations int
	// CopyAge, when set, returns how old a service's standby copy is at a
	// moment (the monitor's content sync), nil when the service has no
	// sync; Trigger hands it to the machine, so an incident records its
	// recovery point when it opens.
	CopyAge func(service string, at time.Time) *recover.CopyAge
}

// Executor performs incidents: it owns one goroutine per open incident, which
// owns that service's Machine, persists every transition before acting on it,
// runs steps through Deps and feeds their results back as events.
type Executor struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	ctx      context.Context
	services map[string]recover.Config
	records  map[string]recover.Record // last saved record of each service
	change   chan struct{}             // closed (and replaced) on every save
	runners  map[string]*runner
	dropped  map[string]error // why a service's runner was dropped, until a new one starts
	wg       sync.WaitGroup

	slots     chan struct{}   // one token per running migration
	migrating map[string]bool // services in a migration; true when they hold a token
}

// New returns an executor; call Start before Trigger.
func New(cfg Config) *Executor {
	if cfg.Clock == nil {
		cfg.Clock = clock.Wall
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.HealthInterval <= 0 {
		cfg.HealthInterval = 100 * time.Millisecond
	}
	if cfg.SaveRetry <= 0 {
		cfg.SaveRetry = 500 * time.Millisecond
	}
	if cfg.MaxMigrations <= 0 {
		cfg.MaxMigrations = 1
	}
	if cfg.Jitter == nil {
		cfg.Jitter = randomJitter
	}
	return &Executor{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "recover"),
		services: cfg.Services,
		records:  map[string]recover.Record{},
		runners:  map[string]*runner{},
		dropped:  map[string]error{},
		change:   make(chan struct{}),

		slots:     make(chan struct{}, cfg.MaxMigrations),
		migrating: map[string]bool{},
	}
}

// Start loads every record from the store and resumes the open incidents,
// and the closed ones whose frozen primary's force-stop is due
// (recover.Incident.FenceStopDue): the last leader's stop may be lost.
// Incident goroutines run until they close or ctx ends; Wait waits for them.
func (e *Executor) Start(ctx context.Context) error {
	recs, err := e.cfg.Store.Load(ctx)
	if err != nil {
		return fmt.Errorf("load service records: %w", err)
	}
	e.cfg.Metrics.knowServices(e.cfg.Services)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ctx = ctx
	for _, rec := range recs {
		e.records[rec.Service] = rec
		if !rec.Incident.Open() && !rec.Incident.FenceStopDue() {
			continue // a closed incident resumes only to ask again for its force-stop
		}
		cfg, ok := e.config(rec.Service)
		if !ok {
			e.log.Error("open incident for a service not in the inventory; leaving it", "service", rec.Service, "incident", rec.Incident.ID)
			continue
		}
		e.resumeSlot(rec)
		m := recover.Restore(cfg, rec)
		e.log.Info("resuming incident", "service", rec.Service, "incident", rec.Incident.ID, "state", rec.State)
		// Queued before the goroutine starts: it must see the resume
		// before it looks at the step's deadline, which the dead monitor
		// set and which has usually passed (a Tick would time it out).
		e.spawn(m, envelope{resume: true})
	}
	return nil
}

// Wait blocks until every incident goroutine has stopped (after ctx ended).
func (e *Executor) Wait() { e.wg.Wait() }

// SetServices replaces the service configurations (inventory reload). Open
// incidents keep the playbook they started with.
func (e *Executor) SetServices(services map[string]recover.Config) {
	e.cfg.Metrics.knowServices(services)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.services = services
}

// Trigger opens an incident for service or joins the open one. It returns
// once the machine took the trigger (not when recovery ends), with
// ErrIllegalTransition when the service's state refuses it.
func (e *Executor) Trigger(ctx context.Context, service string, src recover.Source, reason string) error {
	now := e.cfg.Clock.Now()
	var age *recover.CopyAge
	if e.cfg.CopyAge != nil {
		age = e.cfg.CopyAge(service, now)
	}
	return e.send(ctx, service, recover.Trigger{At: now, Source: src, Reason: reason, Copy: age})
}

// Reset is an operator declaring that service's primary serves again (see
// the Reset event). The reset runs as steps of the service's incident, on
// the executor's context and behind its store's writes (a monitor that no
// longer leads cannot swap DNS); Reset waits until it ends or ctx does. A
// primary that fails its check refuses it with ErrPrimaryUnhealthy, flap
// damping with ErrDamped.
func (e *Executor) Reset(ctx context.Context, service, reason string) error {
	if err := e.send(ctx, service, recover.Reset{At: e.cfg.Clock.Now(), Reason: reason}); err != nil {
		return err
	}
	return e.await(ctx, service, resetOutcome)
}

// resetOutcome says whether the reset in rec ended, and how.
func resetOutcome(rec recover.Record) (bool, error) {
	inc := rec.Incident
	switch {
	case inc == nil:
		return false, nil
	case inc.ResetRefused != "":
		return true, fmt.Errorf("reset %q refused: %s: %w", rec.Service, inc.ResetRefused, recover.ErrPrimaryUnhealthy)
	case rec.State == recover.Primary:
		return true, nil
	case rec.State == recover.Stuck:
		return true, fmt.Errorf("reset %q: %w: %s", rec.Service, ErrStuck, inc.Stuck)
	}
	return false, nil
}

// await waits until the last saved record of service satisfies done, or
// ctx or the executor ends, or the service's runner is dropped (fenced).
func (e *Executor) await(ctx context.Context, service string, done func(recover.Record) (bool, error)) error {
	for {
		e.mu.Lock()
		rec, change, dropped := e.records[service], e.change, e.dropped[service]
		e.mu.Unlock()
		if ok, err := done(rec); ok {
			return err
		}
		if dropped != nil {
			return fmt.Errorf("service %q: still %s: %w", service, rec.State, dropped)
		}
		select {
		case <-change:
		case <-ctx.Done():
			return fmt.Errorf("service %q: still %s: %w", service, rec.State, ctx.Err())
		case <-e.ctx.Done():
			return fmt.Errorf("service %q: still %s: %w", service, rec.State, ErrStopped)
		}
	}
}

// Records returns the last saved record of every configured service (a
// service with no history yet is on its primary), sorted by name.
func (e *Executor) Records() []recover.Record {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]recover.Record, 0, len(e.services))
	for name := range e.services {
		r, ok := e.records[name]
		if !ok {
			cfg, _ := e.config(name)
			r = recover.New(cfg).Record()
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out
}

// config returns a service's machine configuration with the executor's
// epoch and default flap policy. e.mu is held.
func (e *Executor) config(name string) (recover.Config, bool) {
	cfg, ok := e.services[name]
	if !ok {
		return recover.Config{}, false
	}
	cfg.Service.Name = name
	if e.cfg.Epoch != 0 {
		cfg.Epoch = e.cfg.Epoch
	}
	if cfg.Flap == (recover.FlapPolicy{}) {
		cfg.Flap = e.cfg.Flap
	}
	if cfg.Jitter == nil {
		cfg.Jitter = e.cfg.Jitter
	}
	return cfg, true
}

// send delivers ev to the service's goroutine, starting one if needed, and
// waits for the machine's verdict.
func (e *Executor) send(ctx context.Context, service string, ev recover.Event) error {
	done := make(chan error, 1)
	e.mu.Lock()
	if e.ctx == nil {
		e.mu.Unlock()
		return errors.New("executor not started")
	}
	r := e.runners[service]
	if r == nil {
		cfg, ok := e.config(service)
		if !ok {
			e.mu.Unlock()
			return fmt.Errorf("service %q: %w", service, ErrUnknownService)
		}
		m := recover.New(cfg)
		if rec, ok := e.records[service]; ok {
			m = recover.Restore(cfg, rec)
		}
		r = e.spawn(m)
	}
	r.post(envelope{ev: ev}, done)
	stopped := e.ctx.Done()
	e.mu.Unlock()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-stopped:
		return fmt.Errorf("service %q: %w", service, ErrStopped)
	}
}

// spawn starts the goroutine of a service's machine with first queued.
// e.mu is held.
func (e *Executor) spawn(m *recover.Machine, first ...envelope) *runner {
	ctx, cancel := context.WithCancel(e.ctx)
	r := &runner{
		e: e, m: m, ctx: ctx, cancel: cancel,
		log:    e.log.With("service", m.Name()),
		notify: make(chan struct{}, 1),
		inbox:  first,
	}
	e.runners[m.Name()] = r
	delete(e.dropped, m.Name())
	e.wg.Add(1)
	go r.loop()
	return r
}

// retire removes r when it has nothing left to do; false when an event
// arrived meanwhile.
func (e *Executor) retire(r *runner) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.inbox) > 0 {
		return false
	}
	delete(e.runners, r.m.Name())
	return true
}

// randomJitter is the default jitter: uniform in [0, d).
func randomJitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}

// drop removes a runner that stopped acting (its store fenced it) and
// answers what is still queued for it, and what awaits the service, with
// err. The next event for the service starts a fresh runner from the last
// saved record.
func (e *Executor) drop(r *runner, err error) {
	e.mu.Lock()
	if e.runners[r.m.Name()] == r {
		delete(e.runners, r.m.Name())
		e.dropped[r.m.Name()] = err
		close(e.change)
		e.change = make(chan struct{})
	}
	e.mu.Unlock()
	for _, env := range r.take() {
		if env.done != nil {
			env.done <- err
		}
	}
}

// saved records the last persisted record of a service.
func (e *Executor) saved(rec recover.Record) {
	e.mu.Lock()
	e.records[rec.Service] = rec
	e.releaseSlot(rec.Service)
	close(e.change)
	e.change = make(chan struct{})
	e.mu.Unlock()
	if e.cfg.OnSave != nil {
		e.cfg.OnSave(rec)
	}
}
