package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/understudy/understudy/internal/labtest"
	"github.com/understudy/understudy/monitor"
	"github.com/understudy/understudy/monitor/api"
)

// The failover-hold world (HACKING.md): four cold primaries t-e2e-fh1-4 on
// host-a 10.200.0.110-113, standby containers from the default agent pool.
// fhHold is the services' proxy hold: shorter than their failovers after
// a host failure (about 1 s in the lab: the fence, then the cold start),
// so the proxy's own hold alone would answer 503; the monitor confirms
// within milliseconds of the proxy's suspect report.
const (
	fhBase = 110
	fhHold = "500ms"
)

// heldClient sends GETs for one service through the proxy, two at a time
// without a pause, and counts what came back: a held request is slow, not
// failed. Its requests may wait as long as a host's failover takes.
type heldClient struct {
	host, primary, standby string // the Host header; the bodies of the primary and of the standby container

	mu          sync.Mutex
	ok, fail    int
	fromStandby int
	slowest     time.Duration
	errs        []string
}

func (c *heldClient) run(ctx context.Context, url string) {
	cl := &http.Client{Timeout: hostBound}
	for ctx.Err() == nil {
		start := time.Now()
		body, err := proxyBody(ctx, cl, url, c.host)
		took := time.Since(start)
		c.mu.Lock()
		switch {
		case ctx.Err() != nil:
		case err != nil:
			c.fail++
			if len(c.errs) < 5 {
				c.errs = append(c.errs, err.Error())
			}
		case body != c.primary && body != c.standby:
			c.fail++
			if len(c.errs) < 5 {
				c.errs = append(c.errs, fmt.Sprintf("answered by %q", body))
			}
		default:
			c.ok++
			c.slowest = max(c.slowest, took)
			if body == c.standby {
				c.fromStandby++
			}
		}
		c.mu.Unlock()
	}
}

// counts returns what the client saw so far.
func (c *heldClient) counts() (ok, fail, fromStandby int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ok, c.fail, c.fromStandby
}

func (c *heldClient) report() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprintf("%d ok (%d from the standby), %d failed, slowest answer %v; errors %s",
		c.ok, c.fromStandby, c.fail, c.slowest.Round(time.Millisecond), strings.Join(c.errs, "; "))
}

// proxyBody GETs / for host through the proxy at url and returns the body
// of a 200.
func proxyBody(ctx context.Context, cl *http.Client, url, host string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/", nil)
	if err != nil {
		return "", err
	}
	req.Host = host
	resp, err := cl.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("read the body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return strings.TrimSpace(string(b)), nil
}

// gathered sums the samples of the metric name in reg whose labels
// include want.
func gathered(t testing.TB, reg prometheus.Gatherer, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather the proxy's metrics: %v", err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue metrics
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

// TestIntegrationHostDownThroughProxy: four cold services whose primaries
// on host-a stop at once, under load through a real proxy: the monitor's
// placement stream marks each failing over from its confirmed failure, so
// the proxy holds their requests for as long as the cold starts take
// (longer than their proxy hold, fhHold) instead of answering 503;
// every request is answered, none fails, and each service is served by its
// standby container afterwards.
func TestIntegrationHostDownThroughProxy(t *testing.T) {
	modes := map[string]string{"fh1": "cold", "fh2": "cold", "fh3": "cold", "fh4": "cold"}
	w := newWorld(t, fhBase, modes)
	w.editInventory(func(text string) string {
		for _, s := range w.services {
			line := "  - name: " + s.Name + "\n"
			text = strings.Replace(text, line, line+"    hold: "+fhHold+"\n", 1)
		}
		return text
	})
	r := w.startController(monitor.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), hostBound)
	defer cancel()
	for _, s := range w.services {
		r.waitPrepared(ctx, t, s.Name)
		if err := r.waitMetric(ctx, "understudy_probe_target_up", "service/"+s.Name, func(v float64) bool { return v == 1 }); err != nil {
			t.Fatalf("monitor never saw %s up: %v", s.Name, err)
		}
	}
	reg := prometheus.NewRegistry()
	purl := w.startProxyWith(r.url, reg)
	if purl == "" {
		labtest.Skip(t, "no proxy (its per-request probe needs a raw ICMP socket): the requests go through it")
	}
	host := func(s svc) string { return strings.TrimSuffix(s.FQDN, ".") }
	for _, s := range w.services {
		pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
		for proxyGet(pctx, http.DefaultClient, purl, host(s)) != nil && pctx.Err() == nil {
			time.Sleep(stepWait) // the proxy learns the placements
		}
		pcancel()
	}

	lctx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stopLoad(); wg.Wait() }()
	clients := make([]*heldClient, len(w.services))
	for i, s := range w.services {
		c := &heldClient{host: host(s), primary: s.VM, standby: s.Name}
		clients[i] = c
		wg.Go(func() { c.run(lctx, purl) })
		wg.Go(func() { c.run(lctx, purl) })
	}
	for _, c := range clients {
		for ok, _, _ := c.counts(); ok == 0 && ctx.Err() == nil; ok, _, _ = c.counts() {
			time.Sleep(stepWait)
		}
	}

	start := time.Now()
	w.stopAll(ctx, t, w.services, nil)
	for i, s := range w.services {
		st, err := r.waitService(ctx, s.Name, func(st api.ServiceStatus) bool { return st.State == "on-standby" })
		if err != nil {
			t.Fatalf("%s never reached on-standby: %v; its client: %s", s.Name, err, clients[i].report())
		}
		for _, _, n := clients[i].counts(); n == 0 && ctx.Err() == nil; _, _, n = clients[i].counts() {
			time.Sleep(stepWait)
		}
		inc := st.LastIncident
		if inc == nil || inc.Result != "recovered" {
			t.Errorf("%s: incident %+v, want recovered", s.Name, inc)
			continue
		}
		t.Logf("%s (cold): DNS flipped %.0f ms after the stop", s.Name, float64(inc.Phase("dns-flipped").Sub(start))/float64(time.Millisecond))
	}
	stopLoad()
	wg.Wait()

	for i, s := range w.services {
		c := clients[i]
		t.Logf("%s through the proxy: %s", s.Name, c.report())
		if ok, fail, fromStandby := c.counts(); fail != 0 || ok == 0 || fromStandby == 0 {
			t.Errorf("%s: %d failed, %d answered, %d by the standby; want 0 failed and answers from both", s.Name, fail, ok, fromStandby)
		}
		held := gathered(t, reg, "understudy_proxy_held_requests_total", map[string]string{"service": s.Name, "reason": "failover"})
		if held == 0 {
			t.Errorf("%s: no request held for its failover (understudy_proxy_held_requests_total{reason=\"failover\"} 0)", s.Name)
		}
		for _, outcome := range []string{"hold_timeout", "unavailable", "queue_full", "backend_error"} {
			if n := gathered(t, reg, "understudy_proxy_requests_total", map[string]string{"service": s.Name, "outcome": outcome}); n != 0 {
				t.Errorf("%s: %v requests with outcome %s, want 0", s.Name, n, outcome)
			}
		}
		t.Logf("%s: %v requests held for the failover, %v for a suspect", s.Name, held,
			gathered(t, reg, "understudy_proxy_held_requests_total", map[string]string{"service": s.Name, "reason": "suspect"}))
		if _, err := w.answersFromStandby(ctx, s); err != nil {
			t.Errorf("%s: %v", s.Name, err)
		}
	}
}
