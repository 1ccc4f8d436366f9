package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Options are the proxy's collaborators.
type Options struct {
	// Monitor streams placements and receives suspect reports. Required.
	Monitor Monitor
	// Pinger probes backends: before each unsafe request, alongside safe
	// ones (an answer younger than Config.ProbeFresh is reused); nil turns
	// the probe off (the proxy then only notices failed connections).
	Pinger Pinger
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer receives the metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	// Transport overrides the transport to backends (tests, benchmarks).
	Transport http.RoundTripper
}

// Proxy is the reverse proxy. It is an http.Handler; Run must run for it
// to learn placements and to report and recheck suspects.
type Proxy struct {
	cfg     Config
	monitor Monitor
	pinger  Pinger
	log     *slog.Logger
	m       *metrics
	rp      *httputil.ReverseProxy
	dialer  *net.Dialer

	byHost map[string]*service
	byName map[string]*service

	standbyPoke chan struct{} // asks for the standby addresses now (reroute_standby.go)

	life   context.Context // ends when Run returns; bounds background work
	cancel context.CancelFunc
	mu     sync.Mutex // guards closed and wg.Add
	closed bool
	wg     sync.WaitGroup
}

// New checks cfg and builds a Proxy. Nothing runs until Run.
func New(cfg Config, opts Options) (*Proxy, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("proxy config: %w", err)
	}
	if opts.Monitor == nil {
		return nil, fmt.Errorf("proxy config: a monitor is required")
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	p := &Proxy{
		cfg:     cfg,
		monitor: opts.Monitor,
		pinger:  opts.Pinger,
		log:     log.With("component", "proxy"),
		m:       newMetrics(opts.Registerer),
		dialer:  &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 15 * time.Second},
		byHost:  map[string]*service{},
		byName:  map[string]*service{},

		standbyPoke: make(chan struct{}, 1),
	}
	p.life, p.cancel = context.WithCancel(context.Background())
	for _, sc := range cfg.Services {
		s := newService(sc, cfg.HeldMax)
		s.onStale = p.stalePlaceHold
		s.onReroute = func(rr *reroute, active bool) { p.rerouteChanged(s, rr, active) }
		p.byHost[sc.Host] = s
		p.byName[sc.Name] = s
		p.m.held.WithLabelValues(sc.Name).Set(0)
		p.m.placementHeld.WithLabelValues(sc.Name).Set(0)
		p.m.initService(sc.Name)
	}
	p.rp = p.newReverseProxy(opts.Transport)
	return p, nil
}

// Run follows the monitor's placement stream, reconnecting with backoff,
// until ctx ends; then it stops every goroutine the proxy started and
// releases held requests with 503. It returns nil after a clean stop.
func (p *Proxy) Run(ctx context.Context) error {
	defer p.stop()
	p.startStandbys()
	p.watch(ctx)
	return nil
}

// stop ends background work and waits for it.
func (p *Proxy) stop() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
}

// spawn runs fn in a goroutine the proxy owns, unless the proxy stopped;
// it reports whether fn runs.
func (p *Proxy) spawn(fn func()) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.wg.Go(fn)
	return true
}

// Backoff bounds for reconnecting to the monitor.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// watch keeps the placement stream open until ctx ends. While it is
// broken the proxy serves from the placements it already has.
func (p *Proxy) watch(ctx context.Context) {
	backoff := minBackoff
	for {
		got := false
		err := p.monitor.WatchPlacements(ctx, func(pl Placement) {
			if !got {
				got = true
				backoff = minBackoff
				p.m.monitorConnected.Set(1)
			}
			p.apply(pl)
		})
		p.m.monitorConnected.Set(0)
		if ctx.Err() != nil {
			return
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		p.log.Warn("placement stream broke; serving from the last placements", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// apply hands one placement to its service.
func (p *Proxy) apply(pl Placement) {
	s := p.byName[pl.Service]
	if s == nil {
		p.log.Debug("placement for a service the proxy does not route", "service", pl.Service)
		return
	}
	res := s.setPlacement(pl)
	if !res.stale {
		p.logPlaceHold(pl, res)
	}
	switch {
	case res.stale:
		p.log.Warn("ignored a placement with an older epoch", "service", pl.Service, "epoch", pl.Epoch)
	case res.changed:
		if !res.first {
			p.m.placementChanges.WithLabelValues(pl.Service).Inc()
		}
		p.log.Info("placement changed", "service", pl.Service, "where", pl.Where,
			"host", pl.Host, "address", pl.Address, "epoch", pl.Epoch, "hold_ended", res.ended)
	}
}

// suspect starts a hold for s because b failed, once per backend: it
// reports to the monitor and rechecks b until the hold ends.
func (p *Proxy) suspect(s *service, b *backend, kind suspectKind, reason string) {
	p.suspectAfter(s, b, kind, reason, false)
}

// suspectConn makes b suspect after its connection failed with err.
func (p *Proxy) suspectConn(s *service, b *backend, err error) {
	p.suspectAfter(s, b, byConnection, fmt.Sprintf("backend connection failed: %v", err), dialTimedOut(err))
}

// dialTimedOut reports whether err is a TCP connect that timed out.
func dialTimedOut(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial" && op.Timeout()
}

// suspectAfter is suspect. Before the monitor is told, a probe miss waits
// for one more echo (answersAgain), and a dial timeout (dialTimeout) for
// one more connect (connectsAgain): a listener whose accept queue is full
// drops SYNs, and the first SYN's retransmission comes after Linux's
// initial RTO of 1 s, just when the default dial timeout ends; under load
// that is an overloaded backend, not a dead one. When the backend answers,
// nothing is reported and the recheck releases the hold as a blip.
func (p *Proxy) suspectAfter(s *service, b *backend, kind suspectKind, reason string, dialTimeout bool) {
	b, kind, hold := p.rerouteOrHold(s, b, kind, reason)
	if !hold {
		return
	}
	hctx, stop := context.WithCancel(p.life)
	h := s.beginHold(b, kind, stop)
	if h == nil {
		stop()
		return
	}
	ph := s.placeHeld()
	p.m.suspects.WithLabelValues(s.cfg.Name, suspectLabel(kind, ph)).Inc()
	if ph != "" {
		// The monitor stopped this backend on purpose (a migration or
		// failback), or already fails it over: hold and retry, but
		// report nothing.
		p.log.Info("backend failed while its placement holds it; holding requests", "service", s.cfg.Name,
			"address", b.addr, "hold", ph, "reason", reason)
	} else {
		p.log.Warn("backend suspect; holding requests", "service", s.cfg.Name, "address", b.addr, "reason", reason)
		p.spawn(func() {
			if kind == byProbe && p.answersAgain(s, b) {
				return
			}
			if kind == byConnection && dialTimeout && p.connectsAgain(s, b) {
				return
			}
			p.report(s.cfg.Name, b, reason)
		})
	}
	p.spawn(func() { p.recheck(hctx, s, h) })
}

// answersAgain sends one more echo to a backend held after a confirmed
// probe miss, before the monitor is told: when it is answered, the proxy
// cleared the miss itself and reports nothing (the recheck releases the
// hold). A response read since the hold began does not count: the proxy
// stamps a response when it reads the headers, so one sent long before
// and read late would pass for life while the third echo went unanswered.
func (p *Proxy) answersAgain(s *service, b *backend) bool {
	if _, err := pingWithin(p.pinger, b.addr.Addr(), s.cfg.ProbeTimeout); err != nil {
		return false
	}
	p.m.probeCleared.WithLabelValues(s.cfg.Name, clearedByHold.label()).Inc()
	p.log.Info("held backend answered before the report; not reporting it to the monitor",
		"service", s.cfg.Name, "address", b.addr)
	return true
}

// connectsAgain confirms a dial timeout before the report: when the
// backend's host still answers an echo (when the proxy probes) and a new
// connect to its port succeeds within the dial timeout, it is up and the
// monitor is not told.
func (p *Proxy) connectsAgain(s *service, b *backend) bool {
	if p.pinger != nil {
		if _, err := pingWithin(p.pinger, b.addr.Addr(), s.cfg.ProbeTimeout); err != nil {
			return false
		}
	}
	ctx, cancel := context.WithTimeout(p.life, p.cfg.DialTimeout)
	defer cancel()
	c, err := p.dialer.DialContext(ctx, "tcp", b.addr.String())
	if err != nil {
		return false
	}
	c.Close()
	p.m.dialCleared.WithLabelValues(s.cfg.Name).Inc()
	p.log.Info("backend accepted a new connection after a dial timeout; not reporting it to the monitor",
		"service", s.cfg.Name, "address", b.addr)
	return true
}

// reportTimeout bounds one suspect report.
const reportTimeout = 2 * time.Second

// report tells the monitor, once per hold.
func (p *Proxy) report(name string, b *backend, reason string) {
	ctx, cancel := context.WithTimeout(p.life, reportTimeout)
	defer cancel()
	err := p.monitor.ReportSuspect(ctx, name, SuspectReport{Reason: reason, Address: b.addr.Addr().String()})
	if err != nil {
		p.log.Warn("could not report suspect to the monitor; holding anyway", "service", name, "err", err)
	}
}

// tcpOnlyChecks is how many rechecks in a row must find a suspect's TCP
// port open while ICMP stays silent before the proxy concludes the host
// filters ICMP, releases the hold and stops probing that backend.
const tcpOnlyChecks = 3

// blipChecks is how many rechecks in a row a suspect must pass before the
// proxy calls it a blip and releases held requests to it: a container being
// force-stopped can still accept a connection in its last milliseconds.
const blipChecks = 3

// recheck checks the suspect backend until it answers blipChecks times in a
// row (a blip: release the hold to it) or the hold ends otherwise.
func (p *Proxy) recheck(ctx context.Context, s *service, h *hold) {
	t := time.NewTicker(p.cfg.Recheck)
	defer t.Stop()
	tcpOnly, answered := 0, 0
	for first := true; ; first = false {
		if !first {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
		icmpOK, tcpOK := p.alive(ctx, s, h)
		switch {
		case icmpOK:
			tcpOnly = 0
			if answered++; answered >= blipChecks && s.endBlip(h, false) {
				p.log.Info("suspect backend answered again; releasing held requests to it",
					"service", s.cfg.Name, "address", h.suspect.addr, "held_for", time.Since(h.since))
				return
			}
		case tcpOK:
			answered = 0
			tcpOnly++
			if tcpOnly >= tcpOnlyChecks && s.endBlip(h, true) {
				p.log.Warn("suspect backend accepts connections but does not answer ICMP; releasing held requests "+
					"and not probing it until its placement changes",
					"service", s.cfg.Name, "address", h.suspect.addr, "held_for", time.Since(h.since))
				return
			}
		default:
			tcpOnly, answered = 0, 0
		}
	}
}

// alive checks the suspect. It always tries a TCP connect to the service
// port: a host that answers pings while its service refuses (a container
// being stopped, a crashed process) is not back. After a probe miss it
// also pings: icmpOK means both answered; tcpOK alone, several times in a
// row, means the host filters ICMP (or the pinger is broken). After a
// connection failure the connect alone decides.
func (p *Proxy) alive(ctx context.Context, s *service, h *hold) (icmpOK, tcpOK bool) {
	pinged := h.kind == byConnection || p.pinger == nil
	if !pinged {
		pctx, cancel := context.WithTimeout(ctx, s.cfg.ProbeTimeout)
		_, err := p.pinger.Ping(pctx, h.suspect.addr.Addr())
		cancel()
		pinged = err == nil
	}
	dctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
	defer cancel()
	c, err := p.dialer.DialContext(dctx, "tcp", h.suspect.addr.String())
	if err != nil {
		return false, false
	}
	c.Close()
	return pinged, true
}
