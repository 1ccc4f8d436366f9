package proxy

import (
	"context"
	"net/netip"
	"time"
)

// RerouteReporter is what a Monitor may also implement to be told that a
// proxy sends a service's requests to its warm standby container
// (active) or back to the primary. The proxy calls it when the Monitor
// implements it; a failed report is logged, never retried.
type RerouteReporter interface {
	ReportReroute(ctx context.Context, service string, r RerouteReport) error
}

// RerouteReport is the body of a reroute report.
type RerouteReport struct {
	// Active: the proxy now sends the service's requests to Standby; false:
	// back to Primary.
	Active  bool   `json:"active"`
	Primary string `json:"primary"`
	Standby string `json:"standby"`
	Reason  string `json:"reason,omitempty"`
}

// rerouteBackChecks is how many rechecks in a row (Config.Recheck apart)
// the primary must pass, ICMP and TCP, before requests go back to it:
// the hysteresis that keeps a flapping path from moving them to and fro.
const rerouteBackChecks = 25

// reroute is one episode of sending a service's requests to its warm
// standby container while the proxy cannot reach the primary.
type reroute struct {
	primary *backend // the placement's backend, suspect
	standby *backend
	since   time.Time
	stop    context.CancelFunc // ends the return loop
}

// tryReroute sends s's requests to its warm standby container instead of
// holding them, when s has Reroute, its placement names a standby
// address, b is its current primary backend and no move runs. It reports
// whether it did (the caller then starts no hold).
func (p *Proxy) tryReroute(s *service, b *backend, reason string) bool {
	if !s.cfg.Reroute {
		return false
	}
	rctx, stop := context.WithCancel(p.life)
	rr := s.beginReroute(b, stop)
	if rr == nil {
		stop()
		return false
	}
	p.m.reroutes.WithLabelValues(s.cfg.Name).Inc()
	p.m.rerouted.WithLabelValues(s.cfg.Name).Set(1)
	p.log.Warn("primary unreachable from the proxy; sending requests to the warm standby",
		"service", s.cfg.Name, "primary", b.addr, "standby", rr.standby.addr, "reason", reason)
	p.spawn(func() { p.reportReroute(s, rr, true, reason) })
	p.spawn(func() { p.rerouteBack(rctx, s, rr) })
	return true
}

// rerouteBack checks the primary until it passes rerouteBackChecks
// rechecks in a row, then sends requests to it again.
func (p *Proxy) rerouteBack(ctx context.Context, s *service, rr *reroute) {
	t := time.NewTicker(p.cfg.Recheck)
	defer t.Stop()
	h := &hold{suspect: rr.primary, kind: byProbe}
	for ok := 0; ; {
		select {
		case <-ctx.Done():
			p.m.rerouted.WithLabelValues(s.cfg.Name).Set(0)
			return
		case <-t.C:
		}
		icmpOK, tcpOK := p.alive(ctx, s, h)
		if !icmpOK || !tcpOK {
			ok = 0
			continue
		}
		if ok++; ok < rerouteBackChecks {
			continue
		}
		if s.endReroute(rr) {
			p.m.rerouted.WithLabelValues(s.cfg.Name).Set(0)
			p.log.Info("primary reachable again; requests go back to it", "service", s.cfg.Name,
				"primary", rr.primary.addr, "rerouted_for", time.Since(rr.since))
			p.reportReroute(s, rr, false, "")
		}
		return
	}
}

// reportReroute tells the monitor, when it listens for reroutes.
func (p *Proxy) reportReroute(s *service, rr *reroute, active bool, reason string) {
	rep, ok := p.monitor.(RerouteReporter)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(p.life, reportTimeout)
	defer cancel()
	err := rep.ReportReroute(ctx, s.cfg.Name, RerouteReport{
		Active: active, Primary: rr.primary.addr.Addr().String(),
		Standby: rr.standby.addr.Addr().String(), Reason: reason,
	})
	if err != nil {
		p.log.Warn("could not report a reroute to the monitor", "service", s.cfg.Name, "active", active, "err", err)
	}
}

// beginReroute replaces b, the primary's suspect backend, by a backend at
// the placement's standby address, unless b is not current, a hold or a
// reroute runs, a move is under way or the placement names no standby.
// It returns the new episode, or nil.
func (s *service) beginReroute(b *backend, stop context.CancelFunc) *reroute {
	s.mu.Lock()
	defer s.mu.Unlock()
	sb := s.cfg.Standby
	if s.backend != b || s.hold != nil || s.reroute != nil || s.movingLocked() || !sb.IsValid() ||
		sb.Unmap() == b.addr.Addr() {
		return nil
	}
	b.markSuspect()
	rr := &reroute{primary: b, since: time.Now(), stop: stop}
	rr.standby = newBackend(addrPort(sb, s.cfg.Port))
	s.reroute = rr
	s.backend = rr.standby
	s.broadcast()
	return rr
}

// endReroute sends requests to a fresh backend at the primary's address
// again. It reports whether rr was still the running episode.
func (s *service) endReroute(rr *reroute) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reroute != rr {
		return false
	}
	nb := newBackend(rr.primary.addr)
	rr.primary.mu.Lock()
	nb.rtt = rr.primary.rtt
	rr.primary.mu.Unlock()
	s.endRerouteLocked()
	if s.backend == rr.standby {
		s.backend = nb
	}
	s.broadcast()
	return true
}

// endRerouteLocked forgets the running reroute and stops its loop. s.mu
// is held; the backend is the caller's to set.
func (s *service) endRerouteLocked() {
	if s.reroute == nil {
		return
	}
	s.reroute.stop()
	s.reroute = nil
}

// addrPort is addr (IPv4-mapped addresses unmapped) at port.
func addrPort(addr netip.Addr, port int) netip.AddrPort {
	return netip.AddrPortFrom(addr.Unmap(), uint16(port))
}
