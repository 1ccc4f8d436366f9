package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	"github.com/understudy/understudy/monitor/api"
)

var (
	_ RerouteReporter = (*MonitorClient)(nil)
	_ StandbyLister   = (*MonitorClient)(nil)
	_ RerouteReporter = (*Monitors)(nil)
	_ StandbyLister   = (*Monitors)(nil)
)

// ReportReroute implements RerouteReporter: POST
// /v1/services/{name}/reroute, authorized like a suspect report.
func (c *MonitorClient) ReportReroute(ctx context.Context, service string, r RerouteReport) error {
	if err := c.api.Post(ctx, "/v1/services/"+url.PathEscape(service)+"/reroute", r, nil); err != nil {
		return fmt.Errorf("report reroute of %q: %w", service, err)
	}
	return nil
}

// Standbys implements StandbyLister from GET /v1/status: the address of
// every prepared standby container (a follower passes on the leader's
// status, which knows what it prepared).
func (c *MonitorClient) Standbys(ctx context.Context) (map[string]netip.Addr, error) {
	var st api.Status
	if err := c.api.Get(ctx, "/v1/status", &st); err != nil {
		return nil, fmt.Errorf("list standby addresses: %w", err)
	}
	return standbyAddrs(st), nil
}

// standbyAddrs are the addresses of st's prepared standby containers.
func standbyAddrs(st api.Status) map[string]netip.Addr {
	out := map[string]netip.Addr{}
	for _, s := range st.Services {
		if !s.Standby.Prepared || s.Standby.Address == "" {
			continue
		}
		a := s.Standby.Address
		if i := strings.IndexByte(a, '/'); i >= 0 { // a CIDR from the pool
			a = a[:i]
		}
		if addr, err := netip.ParseAddr(a); err == nil {
			out[s.Service] = addr
		}
	}
	return out
}

// ReportReroute implements RerouteReporter: like ReportSuspect, every
// monitor once from the current one on.
func (m *Monitors) ReportReroute(ctx context.Context, service string, r RerouteReport) error {
	return m.each(ctx, func(mon Monitor) error {
		rep, ok := mon.(RerouteReporter)
		if !ok {
			return errors.ErrUnsupported
		}
		return rep.ReportReroute(ctx, service, r)
	})
}

// Standbys implements StandbyLister with the first monitor that answers.
func (m *Monitors) Standbys(ctx context.Context) (map[string]netip.Addr, error) {
	var out map[string]netip.Addr
	err := m.each(ctx, func(mon Monitor) error {
		l, ok := mon.(StandbyLister)
		if !ok {
			return errors.ErrUnsupported
		}
		got, err := l.Standbys(ctx)
		if err == nil {
			out = got
		}
		return err
	})
	return out, err
}

// each calls fn on every monitor, from the current one on, until one
// succeeds; that one becomes current. It joins the errors when none did.
func (m *Monitors) each(ctx context.Context, fn func(Monitor) error) error {
	start := m.current()
	var errs []error
	for k := range len(m.list) {
		i := (start + k) % len(m.list)
		err := fn(m.list[i])
		if err == nil {
			m.mu.Lock()
			m.cur = i
			m.mu.Unlock()
			return nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return errors.Join(errs...)
}
