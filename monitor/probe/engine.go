package probe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/understudy/understudy/internal/clock"
)

// Options configure an Engine. Probers and Sink are required.
type Options struct {
	// Probers maps each kind to its probe; usually Probers(deps).
	Probers map[Kind]ProbeFunc
	// Sink receives the events.
	Sink Sink
	// Confirmer is the standby agent. Nil means no agent: a failure whose
	// services ask for confirmation becomes a Disagreement, and isolation
	// is never ruled out.
	Confirmer Confirmer
	// Clock defaults to the wall clock.
	Clock clock.Clock
	// Metrics default to unregistered collectors.
	Metrics *Metrics
	// Logger defaults to slog.Default(); the monitor adds component=monitor.
	Logger *slog.Logger
	// Jitter returns the delay before a target's first probe, to spread
	// targets over the interval; it defaults to uniform in [0, interval).
	Jitter func(interval time.Duration) time.Duration
	// Reconfirm is how long after a disagreement the agent is asked again,
	// and how long a Degraded finding must last before it is reported; it
	// defaults to Fails × Interval.
	Reconfirm time.Duration
	// ConfirmTimeout bounds one call to the agent; it defaults to the
	// probe timeout plus one second.
	ConfirmTimeout time.Duration
	// Settle is the settle window (settle.go): how long a VMDown or
	// ServiceDown waits for the other failures of its hypervisor, so that
	// one confirmation round and one event cover a host's VMs. It defaults
	// to the plan's Timing.HostWindow (monitor.host-window), or interval +
	// timeout, the spread of one death over the targets' schedules; a
	// negative value confirms every finding at once.
	Settle time.Duration
}

// Engine probes a Plan's targets and emits events. Run it once.
type Engine struct {
	targets []Target
	probers map[Kind]ProbeFunc
	opts    Options
	log     *slog.Logger
	ev      *evaluator
	ran     atomic.Bool
}

// New checks the plan and the options and returns an Engine ready to Run.
func New(plan Plan, opts Options) (*Engine, error) {
	if err := plan.Validate(); err != nil {
		return nil, fmt.Errorf("monitor plan: %w", err)
	}
	if opts.Sink == nil {
		return nil, errors.New("monitor: no event sink")
	}
	targets := plan.Targets()
	for _, t := range targets {
		if opts.Probers[t.Kind] == nil {
			return nil, fmt.Errorf("monitor target %q: no probe of kind %q", t.Name, t.Kind)
		}
	}
	if opts.Clock == nil {
		opts.Clock = clock.Wall
	}
	if opts.Metrics == nil {
		opts.Metrics, _ = NewMetrics(nil) // unregistered collectors cannot fail
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Jitter == nil {
		opts.Jitter = func(d time.Duration) time.Duration { return rand.N(max(d, 1)) }
	}
	if opts.Reconfirm <= 0 {
		opts.Reconfirm = time.Duration(plan.Timing.Fails) * plan.Timing.Interval
	}
	if opts.ConfirmTimeout <= 0 {
		opts.ConfirmTimeout = plan.Timing.Timeout + time.Second
	}
	if opts.Settle == 0 {
		opts.Settle = plan.Timing.HostWindow
	}
	if opts.Settle == 0 {
		opts.Settle = plan.Timing.Interval + plan.Timing.Timeout
	}
	log := opts.Logger.With("component", "monitor")
	byName := map[string]Target{}
	for _, t := range targets {
		byName[t.Name] = t
	}
	m := &Engine{targets: targets, probers: opts.Probers, opts: opts, log: log}
	m.ev = &evaluator{
		plan: plan, targets: byName, sink: opts.Sink, clock: opts.Clock, log: log,
		metrics: opts.Metrics, reconfirm: opts.Reconfirm, window: max(opts.Settle, 0),
		conf: &confirmer{agent: opts.Confirmer, ix: newIndex(plan), timing: plan.Timing, timeout: opts.ConfirmTimeout,
			metrics: opts.Metrics},
		down: map[string]error{}, tracked: map[string]*track{}, batches: map[string]*batch{}, failing: map[string]bool{},
	}
	return m, nil
}

// Targets returns what the monitor probes.
func (m *Engine) Targets() []Target { return append([]Target(nil), m.targets...) }

// Run probes every target in its own goroutine and evaluates their changes
// until ctx ends. It returns nil once every goroutine it started stopped.
// An Engine runs once; a second call returns an error.
func (m *Engine) Run(ctx context.Context) error {
	if m.ran.Swap(true) {
		return errors.New("monitor: Run called twice")
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	changes := make(chan change)
	answers := make(chan answer)
	for _, t := range m.targets {
		m.opts.Metrics.setUp(t.Name, true)
		wg.Go(func() { m.watch(ctx, t, changes) })
	}
	dispatch := func(jobs []job) {
		for _, j := range jobs {
			wg.Go(func() {
				a := answer{job: j, verdicts: m.ev.conf.confirmJob(ctx, j)}
				select {
				case answers <- a:
				case <-ctx.Done():
				}
			})
		}
	}
	m.log.Info("monitor started", "targets", len(m.targets))
	tick := m.opts.Clock.After(m.opts.Reconfirm)
	var settle <-chan time.Time // fires when the earliest settle window closes
	var armed time.Time
	for {
		if d, ok := m.ev.deadline(); !ok {
			settle, armed = nil, time.Time{}
		} else if settle == nil || !d.Equal(armed) {
			settle, armed = m.opts.Clock.After(max(d.Sub(m.opts.Clock.Now()), 0)), d
		}
		select {
		case <-ctx.Done():
			m.log.Info("monitor stopping")
			return nil
		case c := <-changes:
			dispatch(m.ev.observe(ctx, c))
		case a := <-answers:
			m.ev.settle(ctx, a)
		case <-settle:
			settle = nil
			dispatch(m.ev.wake())
		case <-tick:
			dispatch(m.ev.tick(ctx))
			tick = m.opts.Clock.After(m.opts.Reconfirm)
		}
	}
}
