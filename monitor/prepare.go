package monitor

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/standby"
)

// prepareTimeout bounds one Prepare call (a warm container is created and
// started; the lab's is ~0.5 s).
const prepareTimeout = 60 * time.Second

// prepState is what the controller knows about a service's container on its
// standby agent.
type prepState struct {
	spec    standby.ServiceSpec // what was prepared (or tried)
	ok      bool
	err     string
	at      time.Time
	retryAt time.Time
	backoff time.Duration
	address string // the standby container's static address, if the agent has a pool
	skipped string // why the controller leaves it alone
}

// preparer pushes each service's spec to its standby agent, so that warm
// containers run and cold ones exist before they are needed. It skips a
// service that is not on its primary (re-preparing would stop an active cold
// container), retries failures with backoff, and runs again after a reload.
type preparer struct {
	c     *Controller
	epoch uint64 // of the term it prepares for
	wake  chan struct{}

	mu    sync.Mutex
	state map[string]*prepState
}

func newPreparer(c *Controller, epoch uint64) *preparer {
	return &preparer{c: c, epoch: epoch, wake: make(chan struct{}, 1), state: map[string]*prepState{}}
}

// poke makes the preparer look at every service again.
func (p *preparer) poke() {
	if p == nil {
		return
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// run prepares until ctx ends.
func (p *preparer) run(ctx context.Context) {
	for {
		next := p.pass(ctx)
		var timer <-chan time.Time
		var t *time.Timer
		if !next.IsZero() {
			t = time.NewTimer(time.Until(next))
			timer = t.C
		}
		select {
		case <-ctx.Done():
		case <-p.wake:
		case <-timer:
		}
		if t != nil {
			t.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// pass prepares every service that needs it and returns when the next retry
// is due (zero: none).
func (p *preparer) pass(ctx context.Context) time.Time {
	pl := p.c.plan()
	records := map[string]recover.Record{}
	for _, r := range p.c.exec().Records() {
		records[r.Service] = r
	}
	names := make([]string, 0, len(pl.specs))
	for n := range pl.specs {
		names = append(names, n)
	}
	sort.Strings(names)
	var next time.Time
	for _, name := range names {
		if ctx.Err() != nil {
			return time.Time{}
		}
		spec := pl.specs[name]
		st := p.get(name)
		if st.ok && sameSpec(st.spec, spec) {
			continue
		}
		if rec := records[name]; rec.State != recover.Primary || rec.Incident.Open() {
			p.set(name, func(s *prepState) {
				s.skipped = "service is " + rec.State.String() + "; its container is left as it is"
			})
			continue
		}
		if !st.retryAt.IsZero() && sameSpec(st.spec, spec) && time.Now().Before(st.retryAt) {
			next = earliest(next, st.retryAt)
			continue
		}
		if at := p.prepareOne(ctx, name, pl.standbys[name], spec); !at.IsZero() {
			next = earliest(next, at)
		}
	}
	return next
}

// prepareOne asks the agent to prepare one service and records the outcome;
// it returns when to retry after a failure.
func (p *preparer) prepareOne(ctx context.Context, name, sb string, spec standby.ServiceSpec) time.Time {
	log := p.c.log.With("service", name, "standby", sb, "mode", spec.Mode)
	agent, err := p.c.conns.agent(sb)
	if err == nil {
		pctx, cancel := context.WithTimeout(ctx, prepareTimeout)
		spec.Epoch = p.epoch
		var st standby.ServiceStatus
		st, err = agent.Prepare(pctx, p.epoch, spec)
		cancel()
		if err == nil {
			p.set(name, func(s *prepState) {
				*s = prepState{spec: spec, ok: true, at: time.Now(), address: st.Address}
			})
			p.c.metrics.prepares.WithLabelValues("ok").Inc()
			log.Info("standby container prepared", "address", st.Address, "running", st.Running)
			return time.Time{}
		}
	}
	if ctx.Err() != nil {
		return time.Time{}
	}
	var retry time.Time
	p.set(name, func(s *prepState) {
		if !sameSpec(s.spec, spec) || s.backoff == 0 {
			s.backoff = p.c.opts.PrepareRetry
		} else {
			s.backoff = min(2*s.backoff, 30*time.Second)
		}
		s.spec, s.ok, s.err, s.at, s.skipped = spec, false, prepareError(spec, err), time.Now(), ""
		s.retryAt = s.at.Add(s.backoff)
		retry = s.retryAt
	})
	p.c.metrics.prepares.WithLabelValues("error").Inc()
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

// forget makes the next pass prepare the service again (after a reset put
// it back on its primary).
func (p *preparer) forget(name string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	delete(p.state, name)
	p.mu.Unlock()
	p.poke()
}

func (p *preparer) get(name string) prepState {
	if p == nil {
		return prepState{skipped: "prepared by the leading monitor"}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if s, ok := p.state[name]; ok {
		return *s
	}
	return prepState{}
}

func (p *preparer) set(name string, f func(*prepState)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.state[name]
	if !ok {
		s = &prepState{}
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
