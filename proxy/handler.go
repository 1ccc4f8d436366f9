package proxy

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"
)

// ServeHTTP routes r by its Host header and forwards it to the service's
// backend, holding it while the backend is suspect.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := p.byHost[canonicalHost(r.Host)]
	if s == nil {
		p.m.requests.WithLabelValues("", OutcomeMisdirected).Inc()
		http.Error(w, "no service is routed for this host", http.StatusMisdirectedRequest)
		return
	}
	if r.Method == http.MethodConnect {
		p.m.requests.WithLabelValues(s.cfg.Name, OutcomeRejected).Inc()
		http.Error(w, "CONNECT is not proxied", http.StatusMethodNotAllowed)
		return
	}
	outcome := p.serve(w, r, s)
	p.m.requests.WithLabelValues(s.cfg.Name, outcome).Inc()
}

// serve runs the request's life: wait for a usable backend, probe it,
// forward, and after a backend failure wait for the next one and retry at
// most once. It returns the outcome.
func (p *Proxy) serve(w http.ResponseWriter, r *http.Request, s *service) string {
	q := &queued{p: p, s: s, ctx: r.Context()}
	defer q.done()
	body := newReplayBody(w, r, p.cfg.BodyTimeout)
	defer body.finish()
	failed := false
	for {
		b, err := q.backend()
		if err != nil {
			return p.refuse(w, s, err)
		}
		if p.pinger != nil && !b.noProbe && b.addr.Addr().Is4() {
			if isSafe(r.Method) {
				// Safe to retry: forward at once and probe alongside. A
				// miss cancels this attempt (markSuspect) and retries it.
				p.probeBehind(s, b)
			} else if err := p.probeFirst(r.Context(), s, b); err != nil {
				if r.Context().Err() != nil {
					return OutcomeCanceled
				}
				continue
			}
		}
		a := p.forward(w, r, b, body)
		if errors.Is(a.err, errNotSent) {
			continue // b turned suspect before the request left: nothing was sent
		}
		if a.err == nil {
			if failed {
				return OutcomeRetried
			}
			return OutcomeForwarded
		}
		if body.clientFailed() {
			// The client's body stalled or broke (which also ends the
			// request's context); the backend is fine.
			w.Header().Set("Connection", "close")
			http.Error(w, "request body not received in time", http.StatusRequestTimeout)
			return OutcomeBodyTimeout
		}
		if r.Context().Err() != nil {
			return OutcomeCanceled
		}
		if errors.Is(a.err, ErrBackendSuspect) || errors.Is(a.err, ErrPlacementMoved) {
			// The proxy withdrew this request: a safe one because b's
			// probe missed, an idempotent one because the placement
			// moved while it waited on b (frozen, or just slow). b did
			// not fail it, so no retry is used up (its waits still
			// count against its hold); it is sent again, unless the
			// transport read some of its body meanwhile.
			if body.unread() {
				continue
			}
			p.log.Warn("request withdrawn from its backend after its body was read; not resending",
				"service", s.cfg.Name, "address", b.addr, "method", r.Method, "err", a.err)
			http.Error(w, "backend failed", http.StatusBadGateway)
			return OutcomeBackendError
		}
		down := backendDown(a.err)
		if down {
			p.suspect(s, b, byConnection, fmt.Sprintf("backend connection failed: %v", a.err))
		}
		if !down || failed || !a.retryable() {
			p.log.Warn("backend request failed", "service", s.cfg.Name, "address", b.addr,
				"method", r.Method, "err", a.err, "retried", failed)
			http.Error(w, "backend failed", http.StatusBadGateway)
			return OutcomeBackendError
		}
		failed = true
	}
}

// probeFirst probes b (or joins the probe in flight) before a request
// that must not be sent to a dead backend; a confirmed miss makes b
// suspect.
func (p *Proxy) probeFirst(ctx context.Context, s *service, b *backend) error {
	c, how, err := b.probe(ctx, p.pinger, p.limits(s), 0)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if how == probeSent {
		p.observeProbe(s, b, c)
	}
	if err != nil {
		p.suspect(s, b, byProbe, missReason(s, c))
	}
	return err
}

// probeBehind starts a probe of b in the background unless one is in
// flight or one was answered within the freshness window. A confirmed
// miss makes b suspect, which cancels the retryable attempts in flight to
// it.
func (p *Proxy) probeBehind(s *service, b *backend) {
	c, how := b.beginProbe(p.cfg.ProbeFresh)
	if how != probeSent {
		return
	}
	if !p.spawn(func() {
		b.runProbe(c, p.pinger, p.limits(s))
		p.observeProbe(s, b, c)
		if c.err != nil {
			p.suspect(s, b, byProbe, missReason(s, c))
		}
	}) {
		b.runProbe(c, nopPinger{}, probeLimits{}) // stopping: release the probe slot
	}
}

// missReason is the suspect reason of a confirmed probe miss.
func missReason(s *service, c *probeCall) string {
	return fmt.Sprintf("probe miss confirmed: no echo reply within %s, nor within %s to a second echo, "+
		"and no response from the backend meanwhile: %v", c.timeout, s.cfg.ProbeTimeout, c.err)
}

// limits are s's probe timeouts.
func (p *Proxy) limits(s *service) probeLimits {
	return probeLimits{floor: p.cfg.ProbeFloor, limit: s.cfg.ProbeTimeout}
}

// observeProbe counts one probe that was sent: its unanswered echoes, the
// RTT of the answered one, a miss it cleared, the first echo's timeout.
func (p *Proxy) observeProbe(s *service, b *backend, c *probeCall) {
	p.m.probeTimeout.WithLabelValues(s.cfg.Name).Set(c.timeout.Seconds())
	if c.misses > 0 {
		p.m.probeMisses.WithLabelValues(s.cfg.Name).Add(float64(c.misses))
	}
	if c.err == nil && c.cleared != clearedByRequest {
		p.m.probeRTT.Observe(c.rtt.Seconds())
	}
	if c.cleared != notCleared {
		p.m.probeCleared.WithLabelValues(s.cfg.Name, c.cleared.label()).Inc()
		p.log.Debug("probe miss cleared; not suspecting the backend", "service", s.cfg.Name, "address", b.addr,
			"first_timeout", c.timeout, "by", c.cleared.label())
	}
}

// refuse answers a request that could not be held or waited too long.
func (p *Proxy) refuse(w http.ResponseWriter, s *service, err error) string {
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return OutcomeCanceled
	case errors.Is(err, ErrQueueFull):
		retryAfter(w, s.cfg.Hold)
		http.Error(w, "service is failing over; too many requests waiting", http.StatusServiceUnavailable)
		return OutcomeQueueFull
	case errors.Is(err, ErrStopped):
		retryAfter(w, time.Second)
		http.Error(w, "proxy is stopping", http.StatusServiceUnavailable)
		return OutcomeStopped
	default:
		retryAfter(w, s.cfg.Hold)
		http.Error(w, "service is failing over; try again", http.StatusServiceUnavailable)
		return OutcomeHoldTimeout
	}
}

// retryAfter sets Retry-After to d in whole seconds, at least 1.
func retryAfter(w http.ResponseWriter, d time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(d.Seconds())))))
}

// queued is one request's place in its service's hold: it counts the held
// time across waits (the hold bound covers the whole request) and keeps the
// held-requests gauge and hold histogram.
type queued struct {
	p        *Proxy
	s        *service
	ctx      context.Context
	deadline *time.Timer
	start    time.Time // when the request was first held
	end      time.Time // when it last stopped waiting
}

// backend returns the service's usable backend, waiting while there is
// none, until the request's hold runs out.
func (q *queued) backend() (*backend, error) {
	for {
		b, changed := q.s.current()
		if b != nil {
			return b, nil
		}
		if q.deadline == nil {
			q.start = time.Now()
			q.deadline = time.NewTimer(q.s.cfg.Hold)
		}
		if err := q.wait(changed, q.s.moveHoldLeft()); err != nil {
			return nil, err
		}
	}
}

// wait holds the request until changed closes, or until a move hold
// expires when expiry is positive.
func (q *queued) wait(changed <-chan struct{}, expiry time.Duration) error {
	if !q.s.enqueue(q.p.cfg.Queue) {
		return ErrQueueFull
	}
	g := q.p.m.held.WithLabelValues(q.s.cfg.Name)
	g.Inc()
	defer func() { g.Dec(); q.s.dequeue(); q.end = time.Now() }()
	var expired <-chan time.Time
	if expiry > 0 {
		t := time.NewTimer(expiry)
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-changed:
		return nil
	case <-expired:
		return nil // the move hold is no longer honoured: look again
	case <-q.deadline.C:
		return ErrHoldTimeout
	case <-q.ctx.Done():
		return context.Cause(q.ctx)
	case <-q.p.life.Done():
		return ErrStopped
	}
}

// done records the hold time of a request that was held.
func (q *queued) done() {
	if q.deadline == nil {
		return
	}
	q.deadline.Stop()
	q.p.m.holdSeconds.WithLabelValues(q.s.cfg.Name).Observe(q.end.Sub(q.start).Seconds())
}
