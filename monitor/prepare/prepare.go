// Package prepare is the monitor daemon's standby preparation: while a
// monitor leads, it pushes each service's container spec to its standby
// agent (PUT /v1/services/{name} with the term's epoch), so that warm
// containers run and cold ones exist before they are needed. It skips a
// service that is not on its primary or has an open incident (preparing a
// cold service stops its container), retries failures with backoff, and
// runs again when poked (a reload, an incident's end).
//
// It sees the daemon through two small interfaces, Services (what to
// prepare, and where each service is) and Agents (the standby agents); it
// does not open agent clients or decide the epoch.
package prepare

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/understudy/understudy/internal/clock"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/standby"
)

// prepareTimeout bounds one Prepare call (a warm container is created and
// started; the lab's is ~0.5 s).
const prepareTimeout = 60 * time.Second

// Agent is what the preparer needs of a standby agent (*standby.Client).
type Agent interface {
	Prepare(ctx context.Context, epoch uint64, spec standby.ServiceSpec) (standby.ServiceStatus, error)
}

// Agents returns the agent client of a standby VM. Safe for concurrent use.
type Agents interface {
	Agent(standby string) (Agent, error)
}

// Services is what the preparer reads of the daemon. Safe for concurrent
// use.
type Services interface {
	// Specs are the services to prepare, by name, in the inventory in force.
	Specs() map[string]Spec
	// Records are the services' records (state and incident) of the term's
	// executor.
	Records() []recover.Record
}

// Spec is one service to prepare: its agent spec (without the epoch) on the
// named standby VM.
type Spec struct {
	Standby string
	Spec    standby.ServiceSpec
}

// Config is what New needs.
type Config struct {
	Services Services
	Agents   Agents
	// Epoch is the term's epoch, sent with every spec.
	Epoch uint64
	// Retry is the first pause before preparing a service again after a
	// failure (doubling up to 30s); default 2s.
	Retry time.Duration
	// Results counts prepare requests by result (ok, error); nil: none.
	Results *prometheus.CounterVec
	// Clock times the backoff (default clock.Wall).
	Clock  clock.Clock
	Logger *slog.Logger
}

// State is what the preparer knows about a service's container on its
// standby agent.
type State struct {
	spec    standby.ServiceSpec // what was prepared (or tried)
	OK      bool
	Err     string
	At      time.Time // of the last attempt
	retryAt time.Time
	backoff time.Duration
	aside   bool   // the last attempt found the container held aside by a swap
	Address string // the standby container's static address, if the agent has a pool
	Skipped string // why the preparer leaves it alone
}

// Preparer pushes each service's spec to its standby agent, so that warm
// containers run and cold ones exist before they are needed. It skips a
// service that is not on its primary (re-preparing would stop an active cold
// container), retries failures with backoff, and runs again after a reload.
type Preparer struct {
	cfg  Config
	log  *slog.Logger
	wake chan struct{}

	mu    sync.Mutex
	state map[string]*State
}

// New returns the preparer of one term.
func New(cfg Config) *Preparer {
	if cfg.Retry <= 0 {
		cfg.Retry = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Wall
	}
	return &Preparer{cfg: cfg, log: cfg.Logger.With("component", "controller"), wake: make(chan struct{}, 1), state: map[string]*State{}}
}

// Poke makes the preparer look at every service again.
func (p *Preparer) Poke() {
	if p == nil {
		return
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Run prepares until ctx ends.
func (p *Preparer) Run(ctx context.Context) {
	for {
		next := p.pass(ctx)
		var timer <-chan time.Time
		if !next.IsZero() {
			timer = p.cfg.Clock.After(next.Sub(p.cfg.Clock.Now()))
		}
		select {
		case <-ctx.Done():
		case <-p.wake:
		case <-timer:
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// pass prepares every service that needs it and returns when the next retry
// is due (zero: none).
func (p *Preparer) pass(ctx context.Context) time.Time {
	specs := p.cfg.Services.Specs()
	records := map[string]recover.Record{}
	for _, r := range p.cfg.Services.Records() {
		records[r.Service] = r
	}
	names := make([]string, 0, len(specs))
	for n := range specs {
		names = append(names, n)
	}
	sort.Strings(names)
	var next time.Time
	for _, name := range names {
		if ctx.Err() != nil {
			return time.Time{}
		}
		spec := specs[name].Spec
		st := p.Get(name)
		if st.OK && sameSpec(st.spec, spec) {
			continue
		}
		if rec := records[name]; rec.State != recover.Primary || rec.Incident.Open() {
			p.set(name, func(s *State) {
				s.Skipped = "service is " + rec.State.String() + "; its container is left as it is"
			})
			continue
		}
		if !st.retryAt.IsZero() && sameSpec(st.spec, spec) && p.cfg.Clock.Now().Before(st.retryAt) {
			next = earliest(next, st.retryAt)
			continue
		}
		if at := p.prepareOne(ctx, name, specs[name].Standby, spec); !at.IsZero() {
			next = earliest(next, at)
		}
	}
	return next
}

// prepareOne asks the agent to prepare one service and records the outcome;
// it returns when to retry after a failure.
func (p *Preparer) prepareOne(ctx context.Context, name, sb string, spec standby.ServiceSpec) time.Time {
	log := p.log.With("service", name, "standby", sb, "mode", spec.Mode)
	agent, err := p.cfg.Agents.Agent(sb)
	if err == nil {
		pctx, cancel := context.WithTimeout(ctx, prepareTimeout)
		spec.Epoch = p.cfg.Epoch
		var st standby.ServiceStatus
		st, err = agent.Prepare(pctx, p.cfg.Epoch, spec)
		cancel()
		if err == nil {
			p.set(name, func(s *State) {
				*s = State{spec: spec, OK: true, At: p.cfg.Clock.Now(), Address: st.Address}
			})
			p.count("ok")
			log.Info("standby container prepared", "address", st.Address, "running", st.Running)
			return time.Time{}
		}
	}
	if ctx.Err() != nil {
		return time.Time{}
	}
	// A sync's swap holds the container aside for a moment: nothing is
	// wrong, so the first retry comes after the first pause. A container
	// still aside at the next attempt is not a moment (a swap that never
	// finished leaves NAME-swapping): that backs off as any failure does.
	swapping := errors.Is(err, standby.ErrSwapping)
	var retry time.Time
	moment := false
	p.set(name, func(s *State) {
		moment = swapping && !s.aside
		if !sameSpec(s.spec, spec) || s.backoff == 0 || moment {
			s.backoff = p.cfg.Retry
		} else {
			s.backoff = min(2*s.backoff, 30*time.Second)
		}
		s.spec, s.OK, s.Err, s.At, s.Skipped, s.aside = spec, false, prepareError(spec, err), p.cfg.Clock.Now(), "", swapping
		s.retryAt = s.At.Add(s.backoff)
		retry = s.retryAt
	})
	p.count("error")
	if moment {
		log.Info("standby container is being swapped by its sync; preparing it again shortly", "err", err, "retry_at", retry)
		return retry
	}
	log.Warn("prepare standby container failed; retrying", "err", err, "retry_at", retry)
	return retry
}

// prepareError is what status shows for a failed prepare. A data disk
// whose source is missing on the standby host is named plainly: it must be
// fixed before an outage, not discovered during one.
func prepareError(spec standby.ServiceSpec, err error) string {
	if errors.Is(err, standby.ErrDataDiskMissing) && spec.DataDisk != nil {
		return "standby not ready: data disk " + spec.DataDisk.Source + " missing"
	}
	return err.Error()
}

// Forget makes the next pass prepare the service again (after a reset put
// it back on its primary).
func (p *Preparer) Forget(name string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	delete(p.state, name)
	p.mu.Unlock()
	p.Poke()
}

// Get returns what the preparer knows of a service; a nil preparer (a
// follower) says the leading monitor prepares it.
func (p *Preparer) Get(name string) State {
	if p == nil {
		return State{Skipped: "prepared by the leading monitor"}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if s, ok := p.state[name]; ok {
		return *s
	}
	return State{}
}

func (p *Preparer) set(name string, f func(*State)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.state[name]
	if !ok {
		s = &State{}
		p.state[name] = s
	}
	f(s)
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

// count counts one prepare request by result.
func (p *Preparer) count(result string) {
	if p.cfg.Results != nil {
		p.cfg.Results.WithLabelValues(result).Inc()
	}
}

// sameSpec reports whether two agent specs ask for the same container.
func sameSpec(a, b standby.ServiceSpec) bool {
	a.Epoch, b.Epoch = 0, 0
	return reflect.DeepEqual(a, b)
}
