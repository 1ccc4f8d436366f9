package proxy

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/understudy/understudy/monitor/api"
)

// What proxy-reroute: warm does (Service.Reroute): when the proxy's own
// probe of a service's primary misses and the miss is confirmed, and the
// monitor named the service's warm standby container (StandbyLister), the
// proxy sends the service's requests to that container instead of
// holding them. It opens no incident and flips no DNS: it only tells the
// monitor (RerouteReporter), which shows it in its status. It goes back to
// the primary once the primary passed rerouteBackChecks rechecks in a
// row, or when the placement changes. A connection failure, a move, or a
// hold already running keep today's behaviour (hold and report); so does
// a standby that fails while it serves: the proxy goes back to the
// primary and holds as without reroute.

// RerouteReport is the body of a reroute report to the monitor.
type RerouteReport = api.RerouteRequest

// RerouteReporter is what a Monitor may also implement to be told that a
// proxy sends a service's requests to its warm standby container
// (Active) or back to the primary. The proxy calls it when the Monitor
// implements it; a failed report is logged, and an active one is repeated
// every rerouteRepeat while the reroute lasts.
type RerouteReporter interface {
	ReportReroute(ctx context.Context, service string, r RerouteReport) error
}

// rerouteBackChecks is how many rechecks in a row (Config.Recheck apart)
// the primary must pass, ICMP and TCP, before requests go back to it:
// the hysteresis that keeps a flapping path from moving them to and fro.
const rerouteBackChecks = 25

// rerouteRepeat is how often an active reroute is reported again: the
// monitor forgets a report not repeated within api.RerouteTTL, and a new
// leader starts without them.
const rerouteRepeat = 30 * time.Second

// reroute is one episode of sending a service's requests to its warm
// standby container while the proxy cannot reach the primary.
type reroute struct {
	primary *backend // the placement's backend, suspect
	standby *backend
	since   time.Time
	reason  string
	stop    context.CancelFunc // ends the return loop
}

// rerouteOrHold is the first step of suspect for a service with Reroute.
// After a confirmed probe miss of the primary it reroutes to the warm
// standby and returns hold false. When b is the standby of the running
// reroute, the reroute ends and it returns the primary's new backend to
// hold for instead. Otherwise it returns b and kind unchanged.
func (p *Proxy) rerouteOrHold(s *service, b *backend, kind suspectKind, reason string) (*backend, suspectKind, bool) {
	if !s.cfg.Reroute {
		return b, kind, true
	}
	if nb := s.abandonReroute(b); nb != nil {
		p.log.Warn("the warm standby failed while it served the rerouted requests; back to the primary, holding as without proxy-reroute",
			"service", s.cfg.Name, "standby", b.addr, "primary", nb.addr, "reason", reason)
		return nb, byProbe, true
	}
	if kind != byProbe {
		return b, kind, true
	}
	rctx, stop := context.WithCancel(p.life)
	rr, noStandby := s.beginReroute(b, reason, stop)
	if rr == nil {
		stop()
		if noStandby {
			p.log.Warn("primary unreachable from the proxy, but the monitor named no warm standby for the service yet; holding",
				"service", s.cfg.Name, "primary", b.addr)
			p.pokeStandbys()
		}
		return b, kind, true
	}
	p.m.reroutes.WithLabelValues(s.cfg.Name).Inc()
	p.log.Warn("primary unreachable from the proxy; sending requests to the warm standby (no incident, DNS unchanged)",
		"service", s.cfg.Name, "primary", b.addr, "standby", rr.standby.addr, "reason", reason)
	p.spawn(func() { p.rerouteBack(rctx, s, rr) })
	return nil, kind, false
}

// rerouteChanged is a service's onReroute: it keeps the gauge and reports
// to the monitor. It is called with s.mu held.
func (p *Proxy) rerouteChanged(s *service, rr *reroute, active bool) {
	v := 0.0
	if active {
		v = 1
	}
	p.m.rerouted.WithLabelValues(s.cfg.Name).Set(v)
	seq := s.reports.next()
	p.spawn(func() { p.reportReroute(s, rr, active, seq) })
}

// rerouteBack checks the primary until it passes rerouteBackChecks
// rechecks in a row, then sends requests to it again; meanwhile it
// repeats the active report every rerouteRepeat. It returns when the
// reroute ends otherwise (ctx).
func (p *Proxy) rerouteBack(ctx context.Context, s *service, rr *reroute) {
	t := time.NewTicker(p.cfg.Recheck)
	defer t.Stop()
	h := &hold{suspect: rr.primary, kind: byProbe}
	repeat := time.Now().Add(rerouteRepeat)
	for ok := 0; ; {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if time.Now().After(repeat) {
			repeat = time.Now().Add(rerouteRepeat)
			if seq, ok := s.repeatSeq(rr); ok {
				p.spawn(func() { p.reportReroute(s, rr, true, seq) })
			}
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
			p.log.Info("primary reachable from the proxy again; requests go back to it", "service", s.cfg.Name,
				"primary", rr.primary.addr, "rerouted_for", time.Since(rr.since).Round(time.Millisecond))
		}
		return
	}
}

// rerouteReports orders a service's reroute reports: each gets a number
// when the state it reports changes (with s.mu held), and one is sent
// only when no later one was sent already, so that the monitor never
// hears "active" after "back to the primary" because two goroutines raced.
type rerouteReports struct {
	seq  atomic.Uint64
	mu   sync.Mutex // held while one report is sent
	sent uint64     // the number of the last report sent
}

// next numbers a new report.
func (r *rerouteReports) next() uint64 { return r.seq.Add(1) }

// repeatSeq numbers a repeat of rr's active report, unless rr ended.
func (s *service) repeatSeq(rr *reroute) (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reroute != rr {
		return 0, false
	}
	return s.reports.next(), true
}

// reportReroute tells the monitor, when it listens for reroutes, unless a
// later report (seq) about s was sent already.
func (p *Proxy) reportReroute(s *service, rr *reroute, active bool, seq uint64) {
	rep, ok := p.monitor.(RerouteReporter)
	if !ok {
		return
	}
	s.reports.mu.Lock()
	defer s.reports.mu.Unlock()
	if seq < s.reports.sent {
		return
	}
	s.reports.sent = seq
	ctx, cancel := context.WithTimeout(p.life, reportTimeout)
	defer cancel()
	r := RerouteReport{Proxy: p.cfg.Name, Active: active, Primary: rr.primary.addr.Addr().String(),
		Standby: rr.standby.addr.Addr().String()}
	if active {
		r.Reason, r.Since = rr.reason, rr.since
	}
	if err := rep.ReportReroute(ctx, s.cfg.Name, r); err != nil {
		p.log.Warn("could not report a reroute to the monitor", "service", s.cfg.Name, "active", active, "err", err)
	}
}

// beginReroute replaces b, the primary's suspect backend, by a backend at
// the warm standby's address, unless b is not current, a hold or a
// reroute runs, a move is under way or the monitor named no standby (then
// noStandby). It returns the new episode, or nil.
func (s *service) beginReroute(b *backend, reason string, stop context.CancelFunc) (rr *reroute, noStandby bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.backend != b || s.hold != nil || s.reroute != nil || s.placeHoldLocked() != "" {
		return nil, false
	}
	sb := s.standby
	switch {
	case !sb.IsValid():
		return nil, true
	case sb == b.addr.Addr(): // the service runs on its standby already
		return nil, false
	}
	b.markSuspect() // the safe requests in flight to it are sent again, to the standby
	rr = &reroute{primary: b, since: time.Now(), reason: reason, stop: stop}
	rr.standby = newBackend(netip.AddrPortFrom(sb, uint16(s.cfg.Port)))
	s.reroute = rr
	s.backend = rr.standby
	if s.onReroute != nil {
		s.onReroute(rr, true)
	}
	s.broadcast()
	return rr, false
}

// endReroute sends requests to a fresh backend at the primary's address
// again. It reports whether rr was still the running episode.
func (s *service) endReroute(rr *reroute) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reroute != rr {
		return false
	}
	s.backend = rr.primaryAgain()
	s.endRerouteLocked()
	s.broadcast()
	return true
}

// abandonReroute ends the running reroute when b, its standby, failed:
// requests go to a fresh backend at the primary's address, which it
// returns (nil when b is not the running reroute's current standby).
func (s *service) abandonReroute(b *backend) *backend {
	s.mu.Lock()
	defer s.mu.Unlock()
	rr := s.reroute
	if rr == nil || rr.standby != b || s.backend != b {
		return nil
	}
	b.markSuspect()
	s.backend = rr.primaryAgain()
	s.endRerouteLocked()
	s.broadcast()
	return s.backend
}

// placementDuringReroute handles a placement for addr that arrives while
// requests go to the warm standby. A placement that still names the
// primary keeps the reroute (it returns the primary's address as the one
// in force). Any other ends it, and it returns the standby's address:
// kept reports that the placement names the very standby the requests go
// to already (the monitor failed over to it), whose backend then stays.
// s.mu is held.
func (s *service) placementDuringReroute(addr netip.AddrPort) (old netip.AddrPort, kept bool) {
	rr := s.reroute
	if addr == rr.primary.addr {
		return addr, false
	}
	s.endRerouteLocked()
	return s.backend.addr, addr == s.backend.addr
}

// primaryAgain is a fresh backend at the primary's address that keeps
// what its RTTs taught.
func (rr *reroute) primaryAgain() *backend {
	nb := newBackend(rr.primary.addr)
	rr.primary.mu.Lock()
	nb.rtt = rr.primary.rtt
	rr.primary.mu.Unlock()
	return nb
}

// endRerouteLocked forgets the running reroute and stops its loop. s.mu
// is held; the backend is the caller's to set.
func (s *service) endRerouteLocked() {
	rr := s.reroute
	if rr == nil {
		return
	}
	rr.stop()
	s.reroute = nil
	if s.onReroute != nil {
		s.onReroute(rr, false)
	}
}

// stallProbe makes a request that waits for b longer than the probe's
// reach (Config.ProbeFresh and then the service's ProbeTimeout) probe b,
// for a service with Reroute; the returned func stops it. Without it, the
// requests forwarded right after an answer (which reuse it and start no
// probe) would wait on a primary whose path was cut just then until the
// monitor moved the service, which a reroute never makes it do.
func (p *Proxy) stallProbe(s *service, b *backend) (stop func()) {
	if !s.cfg.Reroute || p.pinger == nil || b.noProbe || !b.addr.Addr().Is4() {
		return func() {}
	}
	t := time.AfterFunc(max(p.cfg.ProbeFresh, 0)+s.cfg.ProbeTimeout, func() { p.probeBehind(s, b) })
	return func() { t.Stop() }
}
