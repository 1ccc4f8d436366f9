package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/understudy/understudy/internal/icmp"
	"github.com/understudy/understudy/internal/labtest"
	"github.com/understudy/understudy/internal/monitorapi"
	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor"
	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/proxy"
)

// The reroute test's lab addresses (HACKING.md): its primary on host-a
// from 10.200.0.146 (t-e2e-rr-*), its agent's pool 10.200.1.25-.28, and
// the proxy's own source address 10.200.0.254/32 on host-a's bridge, which
// the test's iptables rule matches so that only the proxy loses its path.
const (
	reroutePool   = "10.200.1.25-10.200.1.28"
	rerouteSource = "10.200.0.254"
	rerouteProxy  = "t-e2e-rr-proxy"
)

// TestIntegrationProxyReroute: a warm service with proxy-reroute: warm
// under 10 closed-loop clients through the in-process proxy. When only
// the proxy's path to the primary is cut (iptables drops what leaves from
// the proxy's own source address; the monitor and the agent still reach
// the primary), the proxy sends the requests to the warm standby
// container: no client error, no incident, DNS unchanged, and the
// monitor's status says "rerouted by proxy". When the path comes back,
// the requests return to the primary and the status clears.
func TestIntegrationProxyReroute(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	w, r := newRerouteWorld(ctx, t)
	s := w.services[0]
	st, err := r.service(ctx, s.Name)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("standby container prepared on %s at %s", st.Standby.Name, st.Standby.Address)

	src := addProxySource(t, w.lab.HostA.Bridge)
	url := w.startRerouteProxy(r.url, src, nil)
	time.Sleep(2 * time.Second) // the proxy asks the monitor for the standby's address every second

	l := &rerouteLoad{bodies: map[string]int{}}
	lctx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	for range 10 {
		l.wg.Go(func() { l.run(lctx, url, strings.TrimSuffix(s.FQDN, ".")) })
	}
	waitUntil(ctx, t, "answers from the primary", func() bool { return l.count(s.VM) > 50 })

	cut := time.Now()
	rule := []string{"OUTPUT", "-s", src.String() + "/32", "-d", s.Address + "/32", "-m", "comment", "--comment", "t-e2e-rr", "-j", "DROP"}
	dropRule(t, rule, true)
	waitUntil(ctx, t, "answers from the warm standby", func() bool { return l.count(s.Name) > 0 })
	rerouted := time.Since(cut)
	time.Sleep(2 * time.Second) // serve from the standby for a while
	st, err = r.waitService(ctx, s.Name, func(st api.ServiceStatus) bool { return len(st.Rerouted) == 1 })
	if err != nil {
		t.Fatalf("status never showed the reroute: %v", err)
	}
	if st.Rerouted[0].Proxy != rerouteProxy || st.State != "primary" || st.Where != "primary" || st.Incidents != 0 {
		t.Errorf("status while rerouted: %+v; want rerouted by %s, still primary, no incident", st, rerouteProxy)
	}
	if got := r.metric("understudy_monitor_proxy_reroutes", s.Name); got != 1 {
		t.Errorf("understudy_monitor_proxy_reroutes = %v, want 1", got)
	}
	if a, err := lookupA(ctx, w.dnsSrv.Addr, s.FQDN); err != nil || len(a) != 1 || a[0] != s.Address {
		t.Errorf("DNS while rerouted: %v %v, want %s (no flip)", a, err, s.Address)
	}

	back := time.Now()
	mark := l.count(s.VM)
	dropRule(t, rule, false)
	waitUntil(ctx, t, "answers from the primary again", func() bool { return l.count(s.VM) > mark+50 })
	returned := time.Since(back)
	stopLoad()
	l.wg.Wait()
	if _, err := r.waitService(ctx, s.Name, func(st api.ServiceStatus) bool { return len(st.Rerouted) == 0 }); err != nil {
		t.Errorf("status still shows the reroute after the return: %v", err)
	}
	st, _ = r.service(ctx, s.Name)
	if st.Incidents != 0 {
		t.Errorf("%d incidents, want 0", st.Incidents)
	}
	t.Logf("path cut -> first answer from the standby: %v; path back -> answers from the primary: %v; answers %v; failures %d %q",
		rerouted.Round(time.Millisecond), returned.Round(time.Millisecond), l.bodies, l.fails, l.errs)
	if l.fails != 0 {
		t.Errorf("%d client failures, want 0: %q", l.fails, l.errs)
	}
}

// newRerouteWorld is the reroute world: one warm service with
// proxy-reroute: warm, its primary at 10.200.0.146, its monitor running
// and its standby container prepared.
func newRerouteWorld(ctx context.Context, t testing.TB) (*world, *running) {
	return newRerouteWorldWith(ctx, t, "")
}

// newRerouteWorldWith is newRerouteWorld with more keys for the service
// (YAML lines indented by four spaces, each ending in a newline).
func newRerouteWorldWith(ctx context.Context, t testing.TB, keys string) (*world, *running) {
	t.Helper()
	w := newWorldNamed(t, prefix+"rr-", 146, map[string]string{"warm": "warm"}, labtest.DNSBind, reroutePool, "{containers: 4, memory: 1GiB}")
	w.editInventory(func(text string) string {
		return strings.Replace(text, "    mode: warm\n", "    mode: warm\n    proxy-reroute: warm\n"+keys, 1)
	})
	r := w.startController(monitor.Options{})
	r.waitPrepared(ctx, t, w.services[0].Name)
	return w, r
}

// addProxySource adds rerouteSource/32 to the bridge for the test.
func addProxySource(t testing.TB, bridge string) netip.Addr {
	t.Helper()
	if out, err := exec.Command("ip", "addr", "add", rerouteSource+"/32", "dev", bridge).CombinedOutput(); err != nil {
		t.Fatalf("add the proxy's source address to %s: %v: %s", bridge, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "addr", "del", rerouteSource+"/32", "dev", bridge).CombinedOutput(); err != nil {
			t.Errorf("remove the proxy's source address: %v: %s", err, out)
		}
	})
	return netip.MustParseAddr(rerouteSource)
}

// dropRule inserts (add) or deletes the iptables rule; an inserted rule
// is also deleted at the end of the test if it is still there.
func dropRule(t testing.TB, rule []string, add bool) {
	t.Helper()
	op := "-D"
	if add {
		op = "-I"
		t.Cleanup(func() {
			if exec.Command("iptables", append([]string{"-w", "-C"}, rule...)...).Run() == nil {
				_ = exec.Command("iptables", append([]string{"-w", "-D"}, rule...)...).Run()
			}
		})
	}
	if out, err := exec.Command("iptables", append([]string{"-w", op}, rule...)...).CombinedOutput(); err != nil {
		t.Fatalf("iptables %s %v: %v: %s", op, rule, err, out)
	}
}

// startRerouteProxy runs the proxy in-process, its pings and its
// connections to backends leaving from src, its metrics in reg (nil:
// none), and returns its URL.
func (w *world) startRerouteProxy(monURL string, src netip.Addr, reg prometheus.Registerer) string {
	w.t.Helper()
	pinger, err := icmp.NewFrom(src)
	if err != nil {
		w.t.Fatalf("the proxy's pinger (root needed): %v", err)
	}
	inv, err := inventory.Load(w.invPath)
	if err != nil {
		w.t.Fatalf("load inventory: %v", err)
	}
	hc, err := monitorapi.ClientOf(inv.Monitor)
	if err != nil {
		w.t.Fatal(err)
	}
	mc, err := proxy.NewMonitorClient(monURL, hc)
	if err != nil {
		w.t.Fatal(err)
	}
	cfg := proxy.FromInventory(inv)
	cfg.Name, cfg.StandbyRefresh = rerouteProxy, time.Second
	dialer := &net.Dialer{Timeout: time.Second, LocalAddr: &net.TCPAddr{IP: src.AsSlice()}}
	tr := &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}
	p, err := proxy.New(cfg, proxy.Options{Monitor: mc, Pinger: pinger, Transport: tr, Registerer: reg, Logger: w.log.With("side", "proxy")})
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(ctx) }()
	srv := httptest.NewServer(p)
	w.t.Cleanup(func() {
		srv.Close()
		cancel()
		<-done
		tr.CloseIdleConnections()
		pinger.Close()
	})
	return srv.URL
}

// rerouteLoad is a closed-loop client (no pause between requests) that
// counts answers by body (the container's host name) and failures.
type rerouteLoad struct {
	mu     sync.Mutex
	bodies map[string]int
	fails  int
	errs   []string
	wg     sync.WaitGroup
}

func (l *rerouteLoad) run(ctx context.Context, url, host string) {
	cl := &http.Client{Timeout: 10 * time.Second}
	for ctx.Err() == nil {
		body, err := getThrough(ctx, cl, url, host)
		l.mu.Lock()
		switch {
		case ctx.Err() != nil:
		case err != nil:
			l.fails++
			if len(l.errs) < 5 {
				l.errs = append(l.errs, err.Error())
			}
		default:
			l.bodies[body]++
		}
		l.mu.Unlock()
	}
}

func (l *rerouteLoad) count(body string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bodies[body]
}

// getThrough GETs / from host through the proxy at url and returns the
// trimmed body of a 200.
func getThrough(ctx context.Context, cl *http.Client, url, host string) (string, error) {
	return getURL(ctx, cl, url+"/", host)
}

// getURL GETs url (the proxy's, with a path) from host and returns the
// trimmed body of a 200.
func getURL(ctx context.Context, cl *http.Client, url, host string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
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
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return strings.TrimSpace(string(b)), nil
}

// waitUntil polls cond every stepWait until it holds; ctx bounds it.
func waitUntil(ctx context.Context, t testing.TB, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s: %v", what, ctx.Err())
		case <-time.After(stepWait):
		}
	}
}
