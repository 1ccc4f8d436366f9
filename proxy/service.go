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
	backend   *backend   // nil until a placement with an address arrives
	hold      *hold      // non-nil while requests are held
	reroute   *reroute   // non-nil while requests go to the warm standby
	standby   netip.Addr // the warm standby's address, from the monitor (Reroute only)
	reports   rerouteReports
	changed   chan struct{} // closed and replaced on every change of backend or hold
	held      int           // requests waiting now

	// placeHold is why the placement holds the service's requests
	// (reasonMove: Held; reasonFailover: FailingOver), or "".
	placeHold string
	heldSince time.Time // when placeHold began
	heldMax   time.Duration
	heldStale bool // placeHold outlived heldMax and is ignored
	// unavailable is the placement's Unavailable: requests get 503 with it
	// at once.
	unavailable string
	// onStale is called once (with s.mu held) when a placement hold is
	// first found older than heldMax.
	onStale func(name, reason string, held time.Duration)
	// onReroute is called (with s.mu held) when a reroute begins or ends.
	onReroute func(rr *reroute, active bool)
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

// view is what a request finds when it looks for a backend.
type view struct {
	backend     *backend        // the backend to use now, or nil
	changed     <-chan struct{} // closed at the next change, when backend is nil
	reason      string          // why there is no backend: a hold reason
	holdLeft    time.Duration   // how long the placement hold is still honoured; 0: no limit or none
	unavailable string          // the placement's Unavailable: refuse at once
}

// look returns the service's view now.
func (s *service) look() view {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unavailable != "" {
		return view{unavailable: s.unavailable}
	}
	ph := s.placeHoldLocked()
	if s.hold == nil && s.backend != nil && ph == "" {
		return view{backend: s.backend}
	}
	v := view{changed: s.changed, reason: ph}
	switch {
	case ph != "":
		if s.heldMax > 0 {
			v.holdLeft = max(s.heldMax-time.Since(s.heldSince), time.Millisecond)
		}
	case s.hold != nil:
		v.reason = reasonSuspect
	default:
		v.reason = reasonUnplaced
	}
	return v
}

// current returns the backend to use now, or nil and the channel to wait on.
func (s *service) current() (*backend, <-chan struct{}) {
	v := s.look()
	if v.unavailable != "" {
		return nil, nil
	}
	return v.backend, v.changed
}

// placeHeld returns why the placement holds the service now (reasonMove,
// reasonFailover), or "".
func (s *service) placeHeld() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.placeHoldLocked()
}

// placeHoldLocked is placeHeld with s.mu held. A placement hold older than
// heldMax is ignored: a monitor that died mid-move or mid-failover must
// not keep the service held until another one takes over.
func (s *service) placeHoldLocked() string {
	if s.placeHold == "" || s.heldStale {
		return ""
	}
	if s.heldMax > 0 && time.Since(s.heldSince) > s.heldMax {
		if s.onStale != nil {
			s.onStale(s.cfg.Name, s.placeHold, time.Since(s.heldSince))
		}
		s.heldStale = true
		return ""
	}
	return s.placeHold
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
	changed bool   // the backend address changed
	first   bool   // it is the first address the proxy learned
	ended   bool   // a hold ended with it
	stale   bool   // ignored: older epoch than the one in force
	held    bool   // a placement hold began with it
	release bool   // a placement hold ended with it
	expired bool   // the placement hold that ended had outlived heldMax
	reason  string // the placement hold's reason (the one that began or ended)
	down    bool   // the placement's Unavailable changed
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
	kept := false
	if s.reroute != nil {
		old, kept = s.placementDuringReroute(addr)
	}
	s.placement = p
	res := s.setPlaceHold(p)
	if p.Unavailable != s.unavailable {
		s.unavailable, res.down = p.Unavailable, true
	}
	if addr == old {
		res.changed = kept
		if res.held || res.release || res.down || kept {
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

// setPlaceHold applies a placement's Held and FailingOver flags. s.mu is
// held; the caller broadcasts.
func (s *service) setPlaceHold(p Placement) applied {
	reason := ""
	switch {
	case p.Held:
		reason = reasonMove
	case p.FailingOver:
		reason = reasonFailover
	}
	switch {
	case reason == s.placeHold:
		return applied{}
	case reason == "":
		res := applied{release: true, expired: s.heldStale, reason: s.placeHold}
		s.placeHold, s.heldStale = "", false
		return res
	case s.placeHold == "":
		s.heldSince, s.heldStale = time.Now(), false
	}
	// A failover hold that turns into a move's (or back) keeps its start:
	// HeldMax bounds the whole episode.
	s.placeHold = reason
	return applied{held: true, reason: reason}
}
