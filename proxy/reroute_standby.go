package proxy

import (
	"context"
	"net/netip"
	"time"
)

// StandbyLister is what a Monitor may also implement to tell the proxy
// where each service's standby container runs, so that proxy-reroute:
// warm needs no address configured a second time: the agent assigns it
// and the monitor's status says it (services[].standby.address).
type StandbyLister interface {
	// Standbys returns the address of every prepared standby container,
	// by service name.
	Standbys(ctx context.Context) (map[string]netip.Addr, error)
}

// DefaultStandbyRefresh is how often the proxy asks the monitor for the
// standby containers' addresses, when a service has Reroute.
const DefaultStandbyRefresh = 10 * time.Second

// standbyTimeout bounds one ask.
const standbyTimeout = 5 * time.Second

// startStandbys follows the standby addresses while the proxy runs, when
// a service has Reroute and the monitor can list them.
func (p *Proxy) startStandbys() {
	l, ok := p.monitor.(StandbyLister)
	if !ok {
		return
	}
	for _, s := range p.byName {
		if s.cfg.Reroute {
			p.spawn(func() { p.followStandbys(p.life, l) })
			return
		}
	}
}

// pokeStandbys asks for the addresses again now.
func (p *Proxy) pokeStandbys() {
	select {
	case p.standbyPoke <- struct{}{}:
	default:
	}
}

// followStandbys asks l for the addresses every StandbyRefresh, and when
// poked, until ctx ends.
func (p *Proxy) followStandbys(ctx context.Context, l StandbyLister) {
	t := time.NewTimer(0)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-p.standbyPoke:
		}
		actx, cancel := context.WithTimeout(ctx, standbyTimeout)
		got, err := l.Standbys(actx)
		cancel()
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil:
			if !failing {
				p.log.Warn("could not learn the standby containers' addresses from the monitor; keeping the last ones", "err", err)
			}
			failing = true
		default:
			failing = false
			p.setStandbys(got)
		}
		t.Reset(p.cfg.StandbyRefresh)
	}
}

// setStandbys applies the addresses to the services with Reroute.
func (p *Proxy) setStandbys(addrs map[string]netip.Addr) {
	for name, s := range p.byName {
		if !s.cfg.Reroute {
			continue
		}
		if old, now := s.setStandby(addrs[name]); old != now {
			p.log.Info("warm standby address for proxy-reroute", "service", name, "standby", now, "was", old)
		}
	}
}

// setStandby sets the warm standby's address (invalid: none) and returns
// the old and the new one.
func (s *service) setStandby(a netip.Addr) (old, now netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, s.standby = s.standby, a.Unmap()
	return old, s.standby
}
