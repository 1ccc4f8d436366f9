package proxy

import (
	"context"
	"net/netip"
	"sync"
	"time"
)

// suspectKind says how a backend was found down, and so how a hold checks
// whether it came back: a probe miss is rechecked with ICMP, a connection
// failure with a TCP connect.
type suspectKind int

const (
	byProbe suspectKind = iota
	byConnection
)

// service is the live state of one route: its current backend and, while
// that backend is suspect, the hold.
type service struct {
	cfg Service

	mu        sync.Mutex
	placement Placement
	backend   *backend      // nil until a placement with an address arrives
	hold      *hold         // non-nil while requests are held
	changed   chan struct{} // closed and replaced on every change of backend or hold
	held      int           // requests waiting now

	moveHeld  bool      // the placement says Held: a move is under way
	heldSince time.Time // when moveHeld began
	heldMax   time.Duration
	heldStale bool // moveHeld outlived heldMax and is ignored
	// onStale is called once (with s.mu held) when a move hold is first
	// found older than heldMax.
	onStale func(name string, held time.Duration)
}

// hold is one episode of holding a service's requests.
type hold struct {
	suspect *backend
	kind    suspectKind
	since   time.Time
	stop    context.CancelFunc // ends the recheck loop
}

func newService(cfg Service, heldMax time.Duration) *service {
	return &service{cfg: cfg, changed: make(chan struct{}), heldMax: heldMax}
}

// broadcast wakes every waiter. Called with s.mu held.
func (s *service) broadcast() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// current returns the backend to use now, or nil and the channel to wait on.
func (s *service) current() (*backend, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hold == nil && s.backend != nil && !s.movingLocked() {
		return s.backend, nil
	}
	return nil, s.changed
}

// moving reports whether the placement holds the service for a move.
func (s *service) moving() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.movingLocked()
}

// moveHoldLeft returns how long the running move hold is still honoured,
// or 0 when there is none or it has no limit.
func (s *service) moveHoldLeft() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.movingLocked() || s.heldMax <= 0 {
		return 0
	}
	return max(s.heldMax-time.Since(s.heldSince), time.Millisecond)
}

// movingLocked is moving with s.mu held. A move hold older than heldMax
// is ignored: a monitor that died mid-move must not keep the service held
// until another one takes over.
func (s *service) movingLocked() bool {
	if !s.moveHeld {
		return false
	}
	if s.heldMax > 0 && time.Since(s.heldSince) > s.heldMax {
		if !s.heldStale && s.onStale != nil {
			s.onStale(s.cfg.Name, time.Since(s.heldSince))
		}
		s.heldStale = true
		return false
	}
	return true
}

// enqueue counts one more held request unless the queue is full.
func (s *service) enqueue(limit int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held >= limit {
		return false
	}
	s.held++
	return true
}

func (s *service) dequeue() {
	s.mu.Lock()
	s.held--
	s.mu.Unlock()
}

// beginHold marks b suspect and starts holding, unless b is no longer the
// current backend or a hold already runs. It returns the new hold, or nil.
func (s *service) beginHold(b *backend, kind suspectKind, stop context.CancelFunc) *hold {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.backend != b || s.hold != nil {
		return nil
	}
	b.markSuspect()
	s.hold = &hold{suspect: b, kind: kind, since: time.Now(), stop: stop}
	s.broadcast()
	return s.hold
}

// endBlip ends hold h with a fresh backend at the same address: the
// suspect answered again and the placement never changed. noProbe turns
// the per-request probe off for the new backend. It reports whether h was
// still the running hold.
func (s *service) endBlip(h *hold, noProbe bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hold != h || s.backend != h.suspect {
		return false
	}
	s.hold = nil
	s.backend = newBackend(h.suspect.addr)
	s.backend.noProbe = noProbe
	h.suspect.mu.Lock()
	s.backend.rtt = h.suspect.rtt // the same host: keep what its RTTs taught
	h.suspect.mu.Unlock()
	h.stop()
	s.broadcast()
	return true
}

// applied says what a placement did to a service.
type applied struct {
	changed bool // the backend address changed
	first   bool // it is the first address the proxy learned
	ended   bool // a hold ended with it
	stale   bool // ignored: older epoch than the one in force
	held    bool // a move hold began with it
	release bool // a move hold ended with it
	expired bool // the move hold that ended had outlived heldMax
}

// setPlacement applies a placement from the monitor.
func (s *service) setPlacement(p Placement) applied {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.Epoch < s.placement.Epoch {
		return applied{stale: true}
	}
	var addr netip.AddrPort
	if p.Address.IsValid() {
		addr = netip.AddrPortFrom(p.Address.Unmap(), uint16(s.cfg.Port))
	}
	var old netip.AddrPort
	if s.backend != nil {
		old = s.backend.addr
	}
	s.placement = p
	res := s.setMoveHeld(p.Held)
	if addr == old {
		if res.held || res.release {
			s.broadcast()
		}
		return res
	}
	res.changed, res.first = true, !old.IsValid()
	if s.backend != nil {
		s.backend.markMoved()
	}
	s.backend = nil
	if addr.IsValid() {
		s.backend = newBackend(addr)
	}
	if s.hold != nil && s.backend != nil {
		s.hold.stop()
		s.hold = nil
		res.ended = true
	}
	s.broadcast()
	return res
}

// setMoveHeld applies a placement's Held flag. s.mu is held; the caller
// broadcasts.
func (s *service) setMoveHeld(held bool) applied {
	switch {
	case held && !s.moveHeld:
		s.moveHeld, s.heldSince, s.heldStale = true, time.Now(), false
		return applied{held: true}
	case !held && s.moveHeld:
		res := applied{release: true, expired: s.heldStale}
		s.moveHeld, s.heldStale = false, false
		return res
	}
	return applied{}
}
