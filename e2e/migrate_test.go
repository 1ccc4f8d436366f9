package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/understudy/understudy/internal/icmp"
	"github.com/understudy/understudy/internal/labtest"
	"github.com/understudy/understudy/internal/monitorapi"
	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/lxd"
	"github.com/understudy/understudy/monitor"
	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/proxy"
)

// The migration test's spare copy address (spare copies take
// 10.200.2.100-199; the lab inventory's spare pool is 100-129, so this test
// gives spare-1 a pool of its own).
const migSpareAddr = "10.200.2.167"

// TestIntegrationMigrateAndFailback fails a service over to the standby,
// migrates it to spare-1 through the monitor's API (lxd stop-copy-start),
// checks that its name answers from the spare, then fails it back to its
// restarted primary. A client resolves the name at BIND and GETs it every
// 20 ms throughout, and another GETs it through the proxy (which follows
// the controller's placement stream, held placements included); no request
// through the proxy may fail. The longest interruption of each client and
// the copy time are logged.
func TestIntegrationMigrateAndFailback(t *testing.T) {
	w := newWorld(t, 167, map[string]string{"migrate": "warm"})
	s := w.services[0]
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// The agent on spare-1 reports its steal and load for placement.
	spare := w.useSpare(ctx, t, s.Name)

	addr := netip.MustParseAddr(migSpareAddr)
	r := w.startController(monitor.Options{
		MoveInterval: time.Second, // how often spare-1 is sampled
		StandbyIncus: map[string]inventory.Incus{"t-e2e-standby": {Socket: w.lab.Standby.Socket}},
		SparePools: map[string]monitor.SparePool{"spare-1": {First: addr, Last: addr,
			Gateway: netip.MustParseAddr(w.lab.Spare.Gateway), PrefixLen: 24}},
	})
	r.waitPrepared(ctx, t, s.Name)
	if code, err := r.post(ctx, "/v1/services/"+s.Name+"/failover"); err != nil || code != http.StatusAccepted {
		t.Fatalf("failover: %d %v", code, err)
	}
	st, err := r.waitService(ctx, s.Name, func(st api.ServiceStatus) bool { return st.State == "on-standby" })
	if err != nil {
		t.Fatalf("failover never reached on-standby: %v", err)
	}
	failover := st.LastIncident.ID
	if _, err := w.answersFromStandby(ctx, s); err != nil {
		t.Fatalf("after failover: %v", err)
	}

	cl, pcl := &labtest.Outages{}, &proxyClient{}
	cctx, stopClient := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// A client that resolves the name at BIND and GETs the address.
	wg.Go(func() {
		cl.Loop(cctx, 20*time.Millisecond, func(ctx context.Context) error { return getVia(ctx, w.lab.DNSServer, s.FQDN) })
	})
	if purl := w.startProxy(r.url); purl != "" {
		host := strings.TrimSuffix(s.FQDN, ".")
		pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
		for proxyGet(pctx, http.DefaultClient, purl, host) != nil && pctx.Err() == nil {
			time.Sleep(stepWait) // the proxy learns the placements
		}
		pcancel()
		wg.Go(func() { pcl.run(cctx, purl, host) })
	}
	defer func() { stopClient(); wg.Wait() }()
	time.Sleep(200 * time.Millisecond) // the client sees the standby first

	measured := waitSpareMeasured(t, ctx, r.hc, r.url+"/v1/services/"+s.Name+"/migrate")
	t.Logf("spare-1 measured by its agent: steal %.1f%%, load %.2f per CPU", measured.Steal, measured.Load1)
	code, body := postJSON(t, ctx, r.hc, r.url+"/v1/services/"+s.Name+"/migrate", `{"dry_run":true}`)
	if code != http.StatusOK || !strings.Contains(body, `"name":"spare-1"`) || !strings.Contains(body, "chosen") {
		t.Fatalf("dry run: %d %s", code, body)
	}
	t.Logf("dry run: %s", strings.TrimSpace(body))
	start := time.Now()
	if code, body := postJSON(t, ctx, r.hc, r.url+"/v1/services/"+s.Name+"/migrate", `{"to":"spare-1","reason":"e2e"}`); code != http.StatusAccepted {
		t.Fatalf("migrate: %d %s", code, body)
	}
	st, err = r.waitService(ctx, s.Name, func(st api.ServiceStatus) bool {
		return st.LastIncident != nil && st.LastIncident.ID != failover && !st.LastIncident.Open
	})
	if err != nil {
		t.Fatalf("migration never ended: %v", err)
	}
	took := time.Since(start)
	if st.State != "on-spare" || st.Where != "spare" || st.Host != "spare-1" || st.Address != migSpareAddr {
		t.Fatalf("after migration: %s %s/%s at %s; incident %+v", st.State, st.Where, st.Host, st.Address, st.LastIncident)
	}
	logIncident(t, "migration", st.LastIncident, took)
	if addrs, err := lookupA(ctx, w.lab.DNSServer, s.FQDN); err != nil || len(addrs) != 1 || addrs[0] != migSpareAddr {
		t.Errorf("%s = %v (%v), want the spare copy %s", s.FQDN, addrs, err, migSpareAddr)
	}
	if got, err := getBody(ctx, migSpareAddr); err != nil || got != s.Name {
		t.Errorf("the spare copy answered %q (%v), want %q", got, err, s.Name)
	}
	if state, err := w.standby.State(ctx, s.Name); err != nil || !state.Running {
		t.Errorf("standby slot after migration: %+v %v, want warm (running)", state, err)
	}

	// The primary was fenced by the failover: restart it, then fail back.
	if err := w.hostA.Start(ctx, s.VM); err != nil {
		t.Fatalf("restart the primary: %v", err)
	}
	if err := waitHTTP(ctx, s.Address, s.VM); err != nil {
		t.Fatalf("restarted primary: %v", err)
	}
	migrated := st.LastIncident.ID
	start = time.Now()
	if code, body := postJSON(t, ctx, r.hc, r.url+"/v1/services/"+s.Name+"/failback", `{"reason":"e2e"}`); code != http.StatusAccepted {
		t.Fatalf("failback: %d %s", code, body)
	}
	st, err = r.waitService(ctx, s.Name, func(st api.ServiceStatus) bool {
		return st.LastIncident != nil && st.LastIncident.ID != migrated && !st.LastIncident.Open
	})
	if err != nil {
		t.Fatalf("failback never ended: %v", err)
	}
	took = time.Since(start)
	if st.State != "primary" || st.Address != s.Address || st.LastIncident.Result != "failed-back" {
		t.Fatalf("after failback: %s at %s; incident %+v", st.State, st.Address, st.LastIncident)
	}
	logIncident(t, "failback", st.LastIncident, took)
	if addrs, err := lookupA(ctx, w.lab.DNSServer, s.FQDN); err != nil || len(addrs) != 1 || addrs[0] != s.Address {
		t.Errorf("%s = %v (%v), want the primary %s", s.FQDN, addrs, err, s.Address)
	}
	if _, err := spare.State(ctx, s.Name); err == nil {
		t.Error("the spare copy still exists after failback")
	}
	time.Sleep(200 * time.Millisecond)
	stopClient()
	wg.Wait()
	ok, fail, worst := cl.Report()
	t.Logf("client through DNS (resolve at BIND + GET every 20 ms, no proxy): %d ok, %d failed, longest interruption %v", ok, fail, worst)
	t.Logf("client through the proxy (GET every 20 ms): %s", pcl.report())
	// The move's hold reaches the proxy as Placement.Held: requests wait
	// through the copy and the flips instead of meeting a stopped container.
	if n := pcl.failed(); n > 0 {
		t.Errorf("%d request(s) through the proxy failed during the migration and failback, want 0", n)
	}
	if ok == 0 {
		t.Error("the client never reached the service")
	}
}

// addSpare adds spare-1 to the world's inventory.
// spareAgentTemplate is an agent on spare-1 that only reports capacity.
const spareAgentTemplate = `name: spare-1
listen: 127.0.0.1:0
tls: {cert: {{.PKI}}/agent.crt, key: {{.PKI}}/agent.key, client-ca: {{.PKI}}/ca.crt}
incus: {socket: {{.Socket}}}
state-dir: {{.State}}
criu: {disable: true}
load-source: cgroups
cpus: 2
`

// useSpare starts an agent on spare-1 for w's monitor and connects to
// spare-1, where it deletes the copies of names now (an interrupted run's
// leftovers) and again when the test ends.
func (w *world) useSpare(ctx context.Context, t testing.TB, names ...string) *lxd.Client {
	t.Helper()
	w.addSpare(w.runAgent(ctx, "spare-agent", labtest.Render(t, spareAgentTemplate, map[string]string{
		"PKI": w.certs, "Socket": w.lab.Spare.Socket, "State": filepath.Join(w.dir, "spare-agent"),
	})))
	spare, err := lxd.Connect(ctx, lxd.Conn{Name: "spare-1", Socket: w.lab.Spare.Socket})
	if err != nil {
		t.Fatalf("connect to spare-1: %v", err)
	}
	t.Cleanup(spare.Close)
	remove := func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, name := range names {
			if err := spare.Delete(cctx, name); err != nil {
				t.Errorf("cleanup: delete the spare copy %s: %v", name, err)
			}
		}
	}
	remove()
	t.Cleanup(remove)
	return spare
}

// addSpare adds spare-1, with its agent at agentURL, to the inventory.
func (w *world) addSpare(agentURL string) {
	w.t.Helper()
	f, err := os.OpenFile(w.invPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		w.t.Fatal(err)
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "spares:\n  - {name: spare-1, zone: az1, agent: %s, incus: {socket: %s}, capacity: {containers: 4}}\n", agentURL, w.lab.Spare.Socket); err != nil {
		w.t.Fatal(err)
	}
}

// postJSON POSTs body with hc (which sends the API token) and returns the
// status code and the answer.
func postJSON(t testing.TB, ctx context.Context, hc *http.Client, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// logIncident logs a move's phases and the copy step's time.
func logIncident(t testing.TB, what string, inc *api.IncidentStatus, took time.Duration) {
	t.Helper()
	var ph, steps []string
	for _, p := range inc.Phases {
		ph = append(ph, fmt.Sprintf("%s@%.0fms", p.Phase, p.AtMS))
	}
	for _, s := range inc.Steps {
		steps = append(steps, fmt.Sprintf("%s=%.0fms", s.Kind, s.MS))
	}
	t.Logf("%s %s: request -> closed seen in %v; phases %s; steps %s", what, inc.Result, took, strings.Join(ph, " "), strings.Join(steps, " "))
}

// startProxy runs the proxy in-process on the world's inventory, following
// the controller at monURL, and returns its URL; it stops with the test.
// Without a raw ICMP socket (the per-request probe needs it) it returns ""
// and the "0 failed through the proxy" checks are left out, except where the
// lab is required (make test, CI; see labtest.Required): there the test
// fails, since those checks would pass without testing anything.
func (w *world) startProxy(monURL string) string {
	w.t.Helper()
	return w.startProxyWith(monURL, nil)
}

// startProxyWith is startProxy with the proxy's metrics registered in reg
// (nil: nowhere).
func (w *world) startProxyWith(monURL string, reg prometheus.Registerer) string {
	w.t.Helper()
	pinger, err := icmp.New()
	if err != nil {
		if labtest.Required() {
			w.t.Fatalf("the lab is required here, but the proxy's per-request probe cannot open a raw ICMP socket (root, CAP_NET_RAW): %v; the \"0 failed through the proxy\" checks would test nothing", err)
		}
		w.t.Logf("no proxy measurement: the per-request probe needs a raw ICMP socket: %v", err)
		return ""
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
	p, err := proxy.New(proxy.FromInventory(inv), proxy.Options{Monitor: mc, Pinger: pinger, Logger: w.log.With("side", "proxy"), Registerer: reg})
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
		pinger.Close()
	})
	return srv.URL
}

// proxyClient GETs the service through the proxy every 20 ms and counts
// failed requests and the slowest answer (a held request is slow, not
// failed).
type proxyClient struct {
	mu       sync.Mutex
	ok, fail int
	slowest  time.Duration
	gap      time.Duration // longest time between two answers
	lastOK   time.Time
	errs     []string
}

func (c *proxyClient) run(ctx context.Context, url, host string) {
	cl := &http.Client{Timeout: 10 * time.Second}
	for ctx.Err() == nil {
		start := time.Now()
		err := proxyGet(ctx, cl, url, host)
		took := time.Since(start)
		c.mu.Lock()
		switch {
		case ctx.Err() != nil:
		case err != nil:
			c.fail++
			if len(c.errs) < 5 {
				c.errs = append(c.errs, err.Error())
			}
		default:
			c.ok++
			c.slowest = max(c.slowest, took)
			now := time.Now()
			if !c.lastOK.IsZero() {
				c.gap = max(c.gap, now.Sub(c.lastOK))
			}
			c.lastOK = now
		}
		c.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func proxyGet(ctx context.Context, cl *http.Client, url, host string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/", nil)
	if err != nil {
		return err
	}
	req.Host = host
	resp, err := cl.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}

func (c *proxyClient) failed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fail
}

func (c *proxyClient) report() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprintf("%d ok, %d failed, slowest answer %v, longest time between two answers %v; errors %s",
		c.ok, c.fail, c.slowest, c.gap, strings.Join(c.errs, "; "))
}

// getVia resolves name at server and GETs the first address, within 300 ms.
func getVia(ctx context.Context, server, name string) error {
	addrs, err := lookupA(ctx, server, name)
	if err != nil {
		return err
	}
	if len(addrs) == 0 {
		return fmt.Errorf("resolve %s: no address", name)
	}
	gctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err = getBody(gctx, addrs[0])
	return err
}

// waitSpareMeasured dry-runs migrations at url until spare-1's steal and
// load are measured (its agent's first CPU steal sample takes 5 s).
func waitSpareMeasured(t testing.TB, ctx context.Context, hc *http.Client, url string) api.Candidate {
	t.Helper()
	var last api.Candidate
	for ctx.Err() == nil {
		code, body := postJSON(t, ctx, hc, url, `{"dry_run":true}`)
		var res api.MigrateResponse
		if err := json.Unmarshal([]byte(body), &res); code != http.StatusOK || err != nil || len(res.Candidates) != 1 {
			t.Fatalf("dry run: %d %s (%v)", code, body, err)
		}
		if last = res.Candidates[0]; last.Unmeasured == "" {
			return last
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("spare-1 never measured: %s", last.Unmeasured)
	return last
}
