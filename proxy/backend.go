package proxy

import (
	"context"
	"net/netip"
	"net/url"
	"sync"
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

	mu       sync.Mutex
	probing  *probeCall            // the probe in flight, shared by callers
	lastOK   time.Time             // when the last answered probe returned
	suspect  bool                  // set once; in-flight retryable attempts were cancelled
	inflight map[*attempt]struct{} // attempts that may still be cancelled
}

// probeCall is one probe that several requests wait for.
type probeCall struct {
	done chan struct{}
	rtt  time.Duration
	err  error
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
// The ping gets its own timeout, independent of which caller started it;
// a caller whose ctx ends stops waiting and gets ctx's error.
func (b *backend) probe(ctx context.Context, p Pinger, timeout, fresh time.Duration) (time.Duration, probeHow, error) {
	c, how := b.beginProbe(fresh)
	switch how {
	case probeFresh:
		return 0, how, nil
	case probeJoined:
		select {
		case <-c.done:
			return c.rtt, how, c.err
		case <-ctx.Done():
			return 0, how, context.Cause(ctx)
		}
	}
	b.runProbe(c, p, timeout)
	return c.rtt, how, c.err
}

// beginProbe returns the probe to wait for: a new one the caller must run
// (probeSent), the one in flight (probeJoined), or none (probeFresh).
func (b *backend) beginProbe(fresh time.Duration) (*probeCall, probeHow) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if fresh > 0 && !b.lastOK.IsZero() && time.Since(b.lastOK) < fresh {
		return nil, probeFresh
	}
	if c := b.probing; c != nil {
		return c, probeJoined
	}
	c := &probeCall{done: make(chan struct{})}
	b.probing = c
	return c, probeSent
}

// runProbe sends the ping of c and publishes its result.
func (b *backend) runProbe(c *probeCall, p Pinger, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	c.rtt, c.err = p.Ping(ctx, b.addr.Addr())
	cancel()
	b.mu.Lock()
	b.probing = nil
	if c.err == nil {
		b.lastOK = time.Now()
	}
	b.mu.Unlock()
	close(c.done)
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
