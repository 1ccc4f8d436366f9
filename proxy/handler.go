package proxy

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
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
		stall := p.stallProbe(s, b)
		a := p.forward(w, r, b, body)
		stall()
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
			p.suspectConn(s, b, a.err)
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

// UnavailableHeader carries the placement's reason on a 503 for a service
// the monitor says is served nowhere (ErrUnavailable).
const UnavailableHeader = "X-Understudy-Unavailable"

// refuse answers a request that could not be held or waited too long.
func (p *Proxy) refuse(w http.ResponseWriter, s *service, err error) string {
	if u, ok := errors.AsType[*UnavailableError](err); ok {
		w.Header().Set(UnavailableHeader, headerText(u.Reason))
		retryAfter(w, s.cfg.Hold)
		http.Error(w, u.Error(), http.StatusServiceUnavailable)
		return OutcomeUnavailable
	}
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

// maxHeaderText bounds a reason sent in a header.
const maxHeaderText = 256

// headerText makes s safe for a header value: control characters become
// spaces, and it is cut to maxHeaderText bytes on a rune boundary.
func headerText(s string) string {
	b := []byte(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s))
	if len(b) <= maxHeaderText {
		return string(b)
	}
	n := maxHeaderText
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return string(b[:n])
}

// retryAfter sets Retry-After to d in whole seconds, at least 1.
func retryAfter(w http.ResponseWriter, d time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(d.Seconds())))))
}

// queued is one request's place in its service's hold: it counts the held
// time across waits (the hold bound covers the whole request, except the
// waits of a failover hold, which HeldMax bounds) and keeps the
// held-requests gauge, counter and hold histogram.
type queued struct {
	p        *Proxy
	s        *service
	ctx      context.Context
	deadline *time.Timer
	start    time.Time // when the request was first held
	end      time.Time // when it last stopped waiting
	counted  []string  // the hold reasons it was counted under
}

// backend returns the service's usable backend, waiting while there is
// none, until the request's hold runs out; a service the placement says
// is unavailable is refused at once, held requests too.
func (q *queued) backend() (*backend, error) {
	for {
		v := q.s.look()
		if v.unavailable != "" {
			return nil, &UnavailableError{Reason: v.unavailable}
		}
		if v.backend != nil {
			return v.backend, nil
		}
		if q.deadline == nil {
			q.start = time.Now()
			q.deadline = time.NewTimer(q.s.cfg.Hold)
		}
		q.count(v.reason)
		if err := q.wait(v); err != nil {
			return nil, err
		}
	}
}

// count counts the request once under each reason it waits for.
func (q *queued) count(reason string) {
	if slices.Contains(q.counted, reason) {
		return
	}
	q.counted = append(q.counted, reason)
	q.p.m.heldTotal.WithLabelValues(q.s.cfg.Name, reason).Inc()
}

// wait holds the request until v.changed closes, or until the placement
// hold expires when v.holdLeft is positive. A failover hold is not bounded
// by the service's hold, only by HeldMax: the monitor confirmed the
// failure and moves the service, and the request's hold starts over after it.
func (q *queued) wait(v view) error {
	if !q.s.enqueue(q.p.cfg.Queue) {
		return ErrQueueFull
	}
	g := q.p.m.held.WithLabelValues(q.s.cfg.Name)
	g.Inc()
	defer func() { g.Dec(); q.s.dequeue(); q.end = time.Now() }()
	var expired <-chan time.Time
	if v.holdLeft > 0 {
		t := time.NewTimer(v.holdLeft)
		defer t.Stop()
		expired = t.C
	}
	deadline := q.deadline.C
	if v.reason == reasonFailover {
		deadline = nil
		defer q.deadline.Reset(q.s.cfg.Hold)
	}
	select {
	case <-v.changed:
		return nil
	case <-expired:
		return nil // the placement hold is no longer honoured: look again
	case <-deadline:
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
