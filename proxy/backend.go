package proxy

import (
	"context"
	"net/netip"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Pinger sends one ICMP echo and waits for the reply until ctx ends. The
// proxy uses internal/icmp's long-lived raw-socket Pinger.
type Pinger interface {
	Ping(ctx context.Context, addr netip.Addr) (time.Duration, error)
}

// backend is one placement's address. A placement change, and the end of a
// blip, make a new backend; a suspect backend is never used again.
type backend struct {
	addr    netip.AddrPort
	url     *url.URL
	noProbe bool // the host answers TCP but not ICMP: forward without probing

	// answered is when the backend last sent response headers (monoNow):
	// the passive evidence that clears a probe miss.
	answered atomic.Int64
	// lastOK is when the last answered probe returned (monoNow; 0: none),
	// read without the lock by every safe request.
	lastOK atomic.Int64

	mu       sync.Mutex
	probing  *probeCall            // the probe in flight, shared by callers
	rtt      rttEstimator          // the adaptive timeout of the first echo
	suspect  bool                  // set once; in-flight retryable attempts were cancelled
	inflight map[*attempt]struct{} // attempts that may still be cancelled
}

// probeCall is one probe that several requests wait for. err is set only
// for a confirmed miss: the first echo and the confirming one both went
// unanswered and the backend sent no response meanwhile.
type probeCall struct {
	done    chan struct{}
	rtt     time.Duration // of the echo that was answered; 0 when none was
	err     error
	timeout time.Duration // the first echo's (adaptive) timeout
	misses  int           // echoes sent and not answered in time (0, 1 or 2)
	cleared clearedBy     // how a first miss was cleared, if it was
}

// clearedBy says what cleared a missed first echo.
type clearedBy int

const (
	notCleared       clearedBy = iota
	clearedByProbe             // the confirming echo was answered
	clearedByRequest           // the backend answered a request since the probe began
	clearedByHold              // confirmed and held, but a third echo was answered before the report
)

// label is the by label of understudy_proxy_probe_misses_cleared_total.
func (c clearedBy) label() string {
	switch c {
	case clearedByRequest:
		return "request"
	case clearedByHold:
		return "hold"
	}
	return "probe"
}

// probeLimits are a service's probe timeouts: the first echo waits for
// the adaptive timeout between floor and limit, the confirming echo for
// limit (the configured probe-timeout).
type probeLimits struct {
	floor, limit time.Duration
}

// monoBase makes monoNow monotonic.
var monoBase = time.Now()

// monoNow is a monotonic time in nanoseconds, cheap to store atomically.
func monoNow() int64 { return int64(time.Since(monoBase)) }

// sawResponse records that the backend just sent response headers.
func (b *backend) sawResponse() { b.answered.Store(monoNow()) }

// answeredSince reports whether the backend sent response headers at or
// after t (monoNow).
func (b *backend) answeredSince(t int64) bool {
	a := b.answered.Load()
	return a != 0 && a >= t
}

func newBackend(addr netip.AddrPort) *backend {
	return &backend{
		addr:     addr,
		url:      &url.URL{Scheme: "http", Host: addr.String()},
		inflight: map[*attempt]struct{}{},
	}
}

// probeHow says how a caller got its probe result.
type probeHow int

const (
	probeSent   probeHow = iota // the caller sent the ping
	probeJoined                 // it waited for a ping another caller sent
	probeFresh                  // it used an answer younger than the freshness window
)

// probe pings the backend's address, or joins the ping already in flight,
// or, when fresh > 0, trusts an answer that arrived less than fresh ago.
// The probe gets its own timeouts, independent of which caller started it;
// a caller whose ctx ends stops waiting and gets ctx's error. It returns
// the probe (nil for probeFresh) and its error, set for a confirmed miss.
func (b *backend) probe(ctx context.Context, p Pinger, lim probeLimits, fresh time.Duration) (*probeCall, probeHow, error) {
	c, how := b.beginProbe(fresh)
	switch how {
	case probeFresh:
		return nil, how, nil
	case probeJoined:
		select {
		case <-c.done:
			return c, how, c.err
		case <-ctx.Done():
			return c, how, context.Cause(ctx)
		}
	}
	b.runProbe(c, p, lim)
	return c, how, c.err
}

// beginProbe returns the probe to wait for: a new one the caller must run
// (probeSent), the one in flight (probeJoined), or none (probeFresh: an
// echo was answered, or the backend sent response headers, less than
// fresh ago).
func (b *backend) beginProbe(fresh time.Duration) (*probeCall, probeHow) {
	if fresh > 0 {
		// An answered echo or a response from the backend, either less
		// than fresh ago, says it is alive.
		if t := max(b.lastOK.Load(), b.answered.Load()); t != 0 && monoNow()-t < int64(fresh) {
			return nil, probeFresh
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if c := b.probing; c != nil {
		return c, probeJoined
	}
	c := &probeCall{done: make(chan struct{})}
	b.probing = c
	return c, probeSent
}

// runProbe runs the probe of c and publishes its result. The first echo
// waits for the backend's adaptive timeout. A miss is not yet a verdict:
// it is cleared when the backend answered a request since the probe began
// (passive evidence), or else by a second echo that waits for the whole
// limit; only when that one goes unanswered too, and no response arrived
// meanwhile (nor within floor after it), is the miss confirmed (c.err set).
func (b *backend) runProbe(c *probeCall, p Pinger, lim probeLimits) {
	start := monoNow()
	b.mu.Lock()
	c.timeout = b.rtt.timeout(lim.floor, lim.limit)
	b.mu.Unlock()
	c.rtt, c.err = pingWithin(p, b.addr.Addr(), c.timeout)
	if c.err != nil {
		c.misses++
		if b.answeredSince(start) {
			c.cleared, c.err = clearedByRequest, nil
		} else if c.rtt, c.err = pingWithin(p, b.addr.Addr(), lim.limit); c.err == nil {
			c.cleared = clearedByProbe
		} else {
			c.misses++
			// A stall of this process delays the timers and the reads
			// of responses alike: give the reads a moment to catch up.
			time.Sleep(lim.floor)
			if b.answeredSince(start) {
				c.cleared, c.err = clearedByRequest, nil
			}
		}
	}
	b.mu.Lock()
	b.probing = nil
	if c.misses > 0 {
		b.rtt.missed()
	}
	if c.err == nil && c.cleared != clearedByRequest {
		b.rtt.observe(c.rtt)
		b.lastOK.Store(monoNow())
	}
	b.mu.Unlock()
	close(c.done)
}

// pingWithin sends one echo to addr and waits at most timeout.
func pingWithin(p Pinger, addr netip.Addr, timeout time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return p.Ping(ctx, addr)
}

// register records an attempt about to be forwarded. It returns false when
// the backend is already suspect.
func (b *backend) register(a *attempt) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.suspect {
		return false
	}
	b.inflight[a] = struct{}{}
	return true
}

// commit is called when a's response headers arrived: from then on a is
// never cancelled. It returns false when a was cancelled first.
func (b *backend) commit(a *attempt) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.inflight[a]; !ok {
		return false
	}
	delete(b.inflight, a)
	return true
}

// unregister forgets a, whatever happened to it.
func (b *backend) unregister(a *attempt) {
	b.mu.Lock()
	delete(b.inflight, a)
	b.mu.Unlock()
}

// markSuspect marks the backend down and cancels the in-flight attempts
// that will be retried (those that sent nothing to the client yet, of a
// safe method none of whose body was read), so they move to the next backend instead of waiting for
// a dead one. It reports whether this call marked it.
func (b *backend) markSuspect() bool {
	return b.retire(ErrBackendSuspect, (*attempt).cancelOnSuspect)
}

// markMoved retires a backend whose placement moved elsewhere: the
// attempts that sent nothing to the client yet (still waiting for its
// response headers, or holding headers whose body has not begun; see
// heldWriter) and may be sent again (RFC 9110's idempotent methods whose
// body was not read) are cancelled with ErrPlacementMoved, so that one
// stuck on a frozen backend goes to the new placement instead of hanging.
// Attempts that sent a byte of their body to the client finish where
// they are.
func (b *backend) markMoved() {
	b.retire(ErrPlacementMoved, (*attempt).resendable)
}

// retire marks the backend unusable and cancels, with cause, the attempts
// in flight to it that cancel selects (also when it was retired before).
// It reports whether this call marked it.
func (b *backend) retire(cause error, cancel func(*attempt) bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	first := !b.suspect
	b.suspect = true
	for a := range b.inflight {
		if cancel(a) {
			a.cancel(cause)
			delete(b.inflight, a)
		}
	}
	return first
}

// nopPinger fails at once; it ends a probe that cannot run.
type nopPinger struct{}

func (nopPinger) Ping(context.Context, netip.Addr) (time.Duration, error) {
	return 0, ErrStopped
}
