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
}

// hold is one episode of holding a service's requests.
type hold struct {
	suspect *backend
	kind    suspectKind
	since   time.Time
	stop    context.CancelFunc // ends the recheck loop
}

func newService(cfg Service) *service {
	return &service{cfg: cfg, changed: make(chan struct{})}
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
	if s.hold == nil && s.backend != nil {
		return s.backend, nil
	}
	return nil, s.changed
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
	if addr == old {
		return applied{}
	}
	res := applied{changed: true, first: !old.IsValid()}
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
