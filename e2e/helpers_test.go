package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/understudy/understudy/internal/monitorapi"
	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor"
	"github.com/understudy/understudy/monitor/api"
)

// running is a controller running in-process.
type running struct {
	ctrl   *monitor.Controller
	url    string
	hc     *http.Client // sends the inventory's API token
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
}

// startController runs the monitor daemon on the world's inventory until the
// test ends (or stop is called).
func (w *world) startController(opts monitor.Options) *running {
	w.t.Helper()
	inv, err := inventory.Load(w.invPath)
	if err != nil {
		w.t.Fatalf("load inventory: %v", err)
	}
	if opts.Logger == nil {
		opts.Logger = w.log.With("side", "monitor")
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	opts.Listen = "127.0.0.1:0"
	addrc := make(chan net.Addr, 1)
	opts.Serving = func(a net.Addr) { addrc <- a }
	ctrl, err := monitor.New(inv, opts)
	if err != nil {
		w.t.Fatalf("controller: %v", err)
	}
	hc, err := monitorapi.ClientOf(inv.Monitor)
	if err != nil {
		w.t.Fatalf("API client: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{ctrl: ctrl, hc: hc, reg: opts.Registry, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- ctrl.Run(ctx) }()
	w.t.Cleanup(func() { r.stop(w.t) })
	select {
	case a := <-addrc:
		r.url = "http://" + a.String()
	case err := <-r.done:
		r.done <- err
		w.t.Fatalf("controller did not start: %v", err)
	case <-time.After(worldSetup):
		w.t.Fatal("controller not serving after 2m")
	}
	return r
}

// stop ends the controller and waits for Run to return (idempotent).
func (r *running) stop(t testing.TB) {
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok && err != nil {
			t.Errorf("controller Run: %v", err)
		}
		if ok {
			close(r.done)
		}
	case <-time.After(time.Minute):
		t.Error("controller did not stop within a minute")
	}
}

// status GETs /v1/status.
func (r *running) status(ctx context.Context) (api.Status, error) {
	var st api.Status
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url+"/v1/status", nil)
	if err != nil {
		return st, err
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("GET /v1/status: %s", resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// service returns one service's status.
func (r *running) service(ctx context.Context, name string) (api.ServiceStatus, error) {
	st, err := r.status(ctx)
	if err != nil {
		return api.ServiceStatus{}, err
	}
	for _, s := range st.Services {
		if s.Service == name {
			return s, nil
		}
	}
	return api.ServiceStatus{}, fmt.Errorf("service %q not in /v1/status", name)
}

// waitService polls the service's status until cond holds or ctx ends.
func (r *running) waitService(ctx context.Context, name string, cond func(api.ServiceStatus) bool) (api.ServiceStatus, error) {
	var last api.ServiceStatus
	var lastErr error
	for {
		s, err := r.service(ctx, name)
		if err == nil && cond(s) {
			return s, nil
		}
		if err == nil {
			last = s
		}
		lastErr = err
		select {
		case <-ctx.Done():
			b, _ := json.Marshal(last)
			return last, fmt.Errorf("%w; last status %s (err %v)", ctx.Err(), b, lastErr)
		case <-time.After(stepWait):
		}
	}
}

// waitPrepared waits until the standby container of service name is
// prepared, and fails the test if it never is.
func (r *running) waitPrepared(ctx context.Context, t testing.TB, name string) {
	t.Helper()
	if _, err := r.waitService(ctx, name, func(st api.ServiceStatus) bool { return st.Standby.Prepared }); err != nil {
		t.Fatalf("standby container never prepared: %v", err)
	}
}

// post POSTs to the controller's API and returns the status code.
func (r *running) post(ctx context.Context, path string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url+path, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// metric returns the value of a gauge or counter with the given label value
// (any label), or -1 when absent.
func (r *running) metric(name, label string) float64 {
	mfs, err := r.reg.Gather()
	if err != nil {
		return -1
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetValue() == label {
					if g := m.GetGauge(); g != nil {
						return g.GetValue()
					}
					if c := m.GetCounter(); c != nil {
						return c.GetValue()
					}
					if h := m.GetHistogram(); h != nil {
						return float64(h.GetSampleCount())
					}
				}
			}
		}
	}
	return -1
}

// waitMetric polls a metric until cond holds or ctx ends.
func (r *running) waitMetric(ctx context.Context, name, label string, cond func(float64) bool) error {
	for {
		v := r.metric(name, label)
		if cond(v) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("metric %s{%s} = %v: %w", name, label, v, ctx.Err())
		case <-time.After(stepWait):
		}
	}
}

// lookupA asks the lab's BIND directly (no client of ours) for name's A records.
func lookupA(ctx context.Context, server, name string) ([]string, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	m.RecursionDesired = false
	c := &dns.Client{Timeout: 2 * time.Second}
	in, _, err := c.ExchangeContext(ctx, m, server)
	if err != nil {
		return nil, fmt.Errorf("query %s at %s: %w", name, server, err)
	}
	if in.Rcode != dns.RcodeSuccess {
		return nil, fmt.Errorf("query %s at %s: %s", name, server, dns.RcodeToString[in.Rcode])
	}
	var out []string
	for _, rr := range in.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	return out, nil
}

// getBody GETs http://addr/ once and trims the answer.
func getBody(ctx context.Context, addr string) (string, error) {
	body, err := getPath(ctx, addr, "/")
	return strings.TrimSpace(body), err
}

// waitHTTP waits until http://addr/ answers want.
func waitHTTP(ctx context.Context, addr, want string) error {
	var last string
	var lastErr error
	for {
		body, err := getBody(ctx, addr)
		if err == nil && body == want {
			return nil
		}
		last, lastErr = body, err
		select {
		case <-ctx.Done():
			return fmt.Errorf("http://%s/ never answered %q (last %q, %v): %w", addr, want, last, lastErr, ctx.Err())
		case <-time.After(stepWait):
		}
	}
}

// answersFromStandby checks the whole client path: the name resolves at the
// world's DNS server (BIND unless newWorldOn chose another) to a standby
// address, and that address serves the standby container.
func (w *world) answersFromStandby(ctx context.Context, s svc) (string, error) {
	addrs, err := lookupA(ctx, w.dnsSrv.Addr, s.FQDN)
	if err != nil {
		return "", err
	}
	if len(addrs) != 1 {
		return "", fmt.Errorf("%s has %d A records %v, want 1", s.FQDN, len(addrs), addrs)
	}
	a, err := netip.ParseAddr(addrs[0])
	if err != nil {
		return "", err
	}
	if !netip.MustParsePrefix(w.lab.Standby.Gateway + "/24").Masked().Contains(a) {
		return "", fmt.Errorf("%s points at %s, not into standby-1's subnet", s.FQDN, a)
	}
	body, err := getBody(ctx, a.String())
	if err != nil {
		return "", err
	}
	if body != s.Name {
		return "", fmt.Errorf("http://%s/ answered %q, want the standby container %q", a, body, s.Name)
	}
	return a.String(), nil
}

var errNoIncident = errors.New("no incident")
