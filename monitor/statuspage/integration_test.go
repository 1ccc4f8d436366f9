package statuspage_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/understudy/understudy/drill"
	"github.com/understudy/understudy/drill/report"
	"github.com/understudy/understudy/internal/labtest"
	"github.com/understudy/understudy/internal/labtest/labconn"
	"github.com/understudy/understudy/internal/monitorapi"
	"github.com/understudy/understudy/internal/pki"
	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/lxd"
	"github.com/understudy/understudy/monitor"
	"github.com/understudy/understudy/monitor/statuspage/drillsource"
	"github.com/understudy/understudy/standby"
	agentconfig "github.com/understudy/understudy/standby/config"
)

// What this package owns in the lab (HACKING.md): the instances and DNS
// names t-statuspage-a and t-statuspage-b, their primaries on host-a at
// 10.200.0.150 and 10.200.0.151, standby containers from the agent pool
// 10.200.1.155-10.200.1.158. The drill is run on a; b stays on its primary.
const (
	pageService  = "t-statuspage-a"
	pageVM       = pageService + "-vm"
	pageAddr     = "10.200.0.150"
	otherService = "t-statuspage-b"
	otherVM      = otherService + "-vm"
	otherAddr    = "10.200.0.151"
	pagePool     = "10.200.1.155-10.200.1.158"
	pageStandby  = "t-statuspage-standby"
	setupWait    = 2 * time.Minute
	levelWarn    = slog.LevelWarn // of the in-process daemons' logs
	pollEvery    = 20 * time.Millisecond
)

// shotPath is where the test keeps its screenshot of the page:
// $STATUSPAGE_SHOT (bench/statuspage.sh sets bench/results/statuspage.png),
// or understudy-statuspage.png in the temporary directory.
func shotPath() string {
	if p := os.Getenv("STATUSPAGE_SHOT"); p != "" {
		return p
	}
	return filepath.Join(os.TempDir(), "understudy-statuspage.png")
}

// TestIntegrationStatusPageChromium serves the page from a lab monitor
// with mutual TLS, opens it in headless chromium with a client
// certificate, runs a vm-stop drill (`understudy drill`, with --restore)
// on a test service, and checks that the page shows the service on the
// standby within a second of the drill's DNS flip, then back on its
// primary, and the drill in its history with its chart. It keeps a
// screenshot (shotPath).
func TestIntegrationStatusPageChromium(t *testing.T) {
	w := newPageWorld(t)
	w.checkTLSRules(t)

	b := startBrowser(t, w.base, w.ca, filepath.Join(w.certs, "browser.crt"), filepath.Join(w.certs, "browser.key"))
	if err := b.call("Page.enable", map[string]any{}, nil); err != nil {
		t.Fatal(err)
	}
	b.navigate(w.base + "/")
	row := func() (rowState, error) {
		var r rowState
		err := b.eval(fmt.Sprintf(`(() => { const r = document.querySelector('tr[data-service=%q]');
			return r ? {state: r.dataset.state, where: r.dataset.where, live: document.getElementById('live').className} : {}; })()`, pageService), &r)
		return r, err
	}
	rowOf := func(service string) (rowState, error) {
		var r rowState
		err := b.eval(fmt.Sprintf(`(() => { const r = document.querySelector('tr[data-service=%q]');
			return r ? {state: r.dataset.state, where: r.dataset.where, live: document.getElementById('live').className} : {}; })()`, service), &r)
		return r, err
	}
	waitUntil(t, time.Minute, "the page shows "+pageService+" and "+otherService+" on their primaries, live", func() error {
		for _, svc := range []string{pageService, otherService} {
			r, err := rowOf(svc)
			if err == nil && (r.State != "primary" || r.Where != "primary" || !strings.Contains(r.Live, "on")) {
				err = fmt.Errorf("%s: row %+v", svc, r)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	w.checkMonitors(t, b)

	drillDone := w.startDrill(t)
	var seen time.Time
	var states []string
	for seen.IsZero() {
		select {
		case err := <-drillDone:
			t.Fatalf("the drill ended (%v) before the page showed %s on the standby; states seen %v", err, pageService, states)
		case <-time.After(pollEvery):
		}
		r, err := row()
		if err != nil {
			t.Fatal(err)
		}
		if s := r.State + "@" + r.Where; len(states) == 0 || states[len(states)-1] != s {
			states = append(states, s)
		}
		if r.Where == "standby" && r.State != "primary" {
			seen = time.Now()
		}
	}
	if err := <-drillDone; err != nil {
		t.Fatalf("drill: %v", err)
	}
	res := w.lastDrill(t)
	if res.Phases.DNSFlipped == nil {
		t.Fatalf("the drill saw no DNS flip: %+v", res.Phases)
	}
	flip := res.Started.Add(time.Duration(*res.Phases.DNSFlipped) * time.Millisecond)
	lag := seen.Sub(flip)
	t.Logf("the page showed %s on the standby %v after the drill's DNS flip (states seen: %v)", pageService, lag.Round(time.Millisecond), states)
	if lag > time.Second {
		t.Errorf("the page showed the failover %v after the DNS flip, want within 1 s", lag)
	}

	id := report.ID(res)
	waitUntil(t, time.Minute, "the page shows "+pageService+" back on its primary and the drill with its chart", func() error {
		r, err := row()
		if err != nil {
			return err
		}
		var chart struct {
			Row    bool `json:"row"`
			Loaded bool `json:"loaded"`
		}
		err = b.eval(fmt.Sprintf(`(() => { const img = document.querySelector('#charts details[data-drill=%q] img');
			return {row: !!document.querySelector('#drills tr[data-drill=%q]'), loaded: !!img && img.complete && img.naturalWidth > 0}; })()`, id, id), &chart)
		if err == nil && (r.State != "primary" || r.Where != "primary" || !chart.Row || !chart.Loaded) {
			err = fmt.Errorf("row %+v, drill %s listed %v, chart loaded %v", r, id, chart.Row, chart.Loaded)
		}
		return err
	})
	var texts struct {
		Incidents string `json:"incidents"`
		VMs       string `json:"vms"`
		Monitors  string `json:"monitors"`
	}
	if err := b.eval(`({incidents: document.getElementById('incidents').innerText, vms: document.getElementById('vms').innerText,
		monitors: document.getElementById('monitors').innerText})`, &texts); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(texts.Incidents, pageService) || !strings.Contains(texts.Incidents, "dns-flipped") {
		t.Errorf("incident timeline:\n%s", texts.Incidents)
	}
	if !strings.Contains(texts.VMs, pageStandby) || !strings.Contains(texts.Monitors, "leader") {
		t.Errorf("standby:\n%s\nmonitors:\n%s", texts.VMs, texts.Monitors)
	}
	if r, err := rowOf(otherService); err != nil || r.State != "primary" || r.Where != "primary" {
		t.Errorf("%s after the drill of %s: row %+v, %v; want it on its primary", otherService, pageService, r, err)
	}
	b.screenshot(shotPath())
}

// checkMonitors: the monitors section lists the world's one monitor as the
// leader that answered, with its epoch, and the summary names it.
func (w *pageWorld) checkMonitors(t *testing.T, b *browser) {
	t.Helper()
	var m struct {
		Rows    []struct{ Name, Leader, First, Epoch string } `json:"rows"`
		Summary string                                        `json:"summary"`
	}
	if err := b.eval(`({rows: [...document.querySelectorAll('#monitors tr[data-monitor]')].map((r) => ({Name: r.dataset.monitor,
		Leader: r.dataset.leader, First: r.cells[0].innerText, Epoch: r.cells[4].innerText})),
		summary: document.getElementById('summary').textContent})`, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Rows) != 1 {
		t.Fatalf("monitors section: %+v, want the world's one monitor", m.Rows)
	}
	r := m.Rows[0]
	if r.Name == "" || r.Leader != "true" || !strings.Contains(r.First, "(answered)") || r.Epoch == "" {
		t.Errorf("monitor row %+v, want the answering monitor as the leader with its epoch", r)
	}
	if !strings.Contains(m.Summary, "leader "+r.Name) || !strings.Contains(m.Summary, "2 services") {
		t.Errorf("summary %q, want 2 services and leader %s", m.Summary, r.Name)
	}
}

type rowState struct {
	State string `json:"state"`
	Where string `json:"where"`
	Live  string `json:"live"`
}

// pageWorld is the test's piece of the lab: a primary, its DNS name, a
// standby agent and a monitor with mutual TLS, all but the primary
// in-process.
type pageWorld struct {
	lab      *labtest.Lab
	dir      string
	certs    string
	ca       string
	agentURL string
	invPath  string
	base     string // https://127.0.0.1:PORT of the monitor
	hostA    *lxd.Client
}

func newPageWorld(t *testing.T) *pageWorld {
	lab := labtest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), setupWait)
	defer cancel()
	w := &pageWorld{lab: lab, dir: t.TempDir()}
	conns := labconn.Open(ctx, t, lab)
	w.hostA = conns.HostA
	for _, p := range [][3]string{{pageService, pageVM, pageAddr}, {otherService, otherVM, otherAddr}} {
		w.startPrimary(ctx, t, p[1], p[2])
		if err := conns.DNS.Replace(ctx, p[0]+"."+lab.Zone, []netip.Addr{netip.MustParseAddr(p[2])}, 10*time.Second, nil); err != nil {
			t.Fatalf("point %s at its primary: %v", p[0], err)
		}
		t.Cleanup(func() { deleteOn(t, conns.Standby, p[0]) })
	}
	w.certs = labtest.MakePKI(t, w.dir)
	w.ca = filepath.Join(w.certs, "ca.crt")
	// The monitors' certificate (server and client), and the browser's.
	if _, _, err := pki.IssueWith(w.certs, w.certs, pki.IssueRequest{Name: "api", Server: true, AlsoClient: true, Hosts: []string{"127.0.0.1"}}, pki.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := pki.Issue(w.certs, w.certs, "browser", false, nil, 0); err != nil {
		t.Fatal(err)
	}
	w.startAgent(ctx, t)
	w.writeInventory(t)
	w.startMonitor(ctx, t)
	return w
}

func deleteOn(t *testing.T, c *lxd.Client, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Delete(ctx, name); err != nil {
		t.Logf("cleanup: delete %s on %s: %v", name, c.Name(), err)
	}
}

func (w *pageWorld) startPrimary(ctx context.Context, t *testing.T, pageVM, pageAddr string) {
	t.Helper()
	deleteOn(t, w.hostA, pageVM) // a leftover of an interrupted run
	t.Cleanup(func() { deleteOn(t, w.hostA, pageVM) })
	spec := lxd.InstanceSpec{Name: pageVM, Image: w.lab.Image, Config: map[string]string{
		"environment.IPADDR": pageAddr + "/24", "environment.GATEWAY": w.lab.HostA.Gateway,
	}}
	if _, err := w.hostA.Ensure(ctx, spec); err != nil {
		t.Fatalf("create primary %s: %v", pageVM, err)
	}
	if err := w.hostA.Start(ctx, pageVM); err != nil {
		t.Fatalf("start primary %s: %v", pageVM, err)
	}
	waitUntil(t, time.Minute, "primary "+pageVM+" answers", func() error {
		resp, err := http.Get("http://" + pageAddr + "/")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if strings.TrimSpace(string(body)) != pageVM {
			return fmt.Errorf("answers %q", body)
		}
		return nil
	})
}

const agentTemplate = `name: {{.Name}}
listen: 127.0.0.1:0
tls: {cert: {{.PKI}}/agent.crt, key: {{.PKI}}/agent.key, client-ca: {{.PKI}}/ca.crt}
incus: {socket: {{.Socket}}}
state-dir: {{.State}}
network: {gateway: {{.Gateway}}, prefix-len: 24, pool: {{.Pool}}}
capacity: {containers: 20, memory: 4GiB}
activate-timeout: 20s
criu: {disable: true}
`

func (w *pageWorld) startAgent(ctx context.Context, t *testing.T) {
	t.Helper()
	cfg, err := agentconfig.Parse("agent.yaml", []byte(labtest.Render(t, agentTemplate, map[string]string{
		"Name": pageStandby, "PKI": w.certs, "Socket": w.lab.Standby.Socket, "State": filepath.Join(w.dir, "agent"),
		"Gateway": w.lab.Standby.Gateway, "Pool": pagePool,
	})))
	if err != nil {
		t.Fatalf("agent config: %v", err)
	}
	addrc := make(chan net.Addr, 1)
	runUntilCleanup(t, "agent", func(ctx context.Context) error {
		return standby.Run(ctx, cfg, standby.RunOptions{Logger: labtest.Logger(t, levelWarn), Version: "statuspage-test",
			Connect: standby.ConnectLXD, Serving: func(a net.Addr) { addrc <- a }})
	})
	select {
	case a := <-addrc:
		w.agentURL = "https://" + a.String()
	case <-ctx.Done():
		t.Fatalf("agent not serving: %v", ctx.Err())
	}
}

// writeInventory writes labtest's world inventory with the API on mutual
// TLS (monitor.api-tls, and api-client-tls for the drill) instead of its
// plain HTTP with a bearer token.
func (w *pageWorld) writeInventory(t *testing.T) {
	t.Helper()
	text := labtest.Render(t, labtest.InventoryTemplate, map[string]any{
		"Lab": true, "Listen": "127.0.0.1:9150", "Standby": pageStandby, "DNS": w.lab.DNSServer, "Zone": w.lab.Zone,
		"Key": w.lab.KeyFile, "State": filepath.Join(w.dir, "state"), "PKI": w.certs, "Gateway": w.lab.HostA.Gateway,
		"Socket": w.lab.HostA.Socket, "Agent": w.agentURL, "Image": w.lab.Image,
		"Services": []map[string]string{
			{"Name": pageService, "FQDN": pageService + "." + w.lab.Zone, "VM": pageVM, "Address": pageAddr, "Mode": "warm"},
			{"Name": otherService, "FQDN": otherService + "." + w.lab.Zone, "VM": otherVM, "Address": otherAddr, "Mode": "warm"},
		},
	})
	tokenLine := "  api-token-file: " + w.certs + "/api.token\n"
	if !strings.Contains(text, tokenLine) {
		t.Fatalf("labtest.InventoryTemplate has no line %q", tokenLine)
	}
	text = strings.Replace(text, tokenLine, fmt.Sprintf("  api-tls: {ca: %[1]s/ca.crt, cert: %[1]s/api.crt, key: %[1]s/api.key}\n"+
		"  api-client-tls: {ca: %[1]s/ca.crt, cert: %[1]s/monitor.crt, key: %[1]s/monitor.key}\n", w.certs), 1)
	w.invPath = filepath.Join(w.dir, "inventory.yaml")
	if err := os.WriteFile(w.invPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (w *pageWorld) inventory(t *testing.T) *inventory.Inventory {
	t.Helper()
	inv, err := inventory.Load(w.invPath)
	if err != nil {
		t.Fatalf("load inventory: %v", err)
	}
	return inv
}

func (w *pageWorld) startMonitor(ctx context.Context, t *testing.T) {
	t.Helper()
	inv := w.inventory(t)
	addrc := make(chan net.Addr, 1)
	ctrl, err := monitor.New(inv, monitor.Options{
		Logger: labtest.Logger(t, levelWarn), Registry: prometheus.NewRegistry(),
		Listen: "127.0.0.1:0", Serving: func(a net.Addr) { addrc <- a },
		// Keepalive lines make the page read the drill history again.
		Keepalive: 2 * time.Second,
		Drills:    drillsource.History{Path: report.HistoryPath(inv.Monitor.StateDir)},
	})
	if err != nil {
		t.Fatalf("monitor: %v", err)
	}
	runUntilCleanup(t, "monitor", ctrl.Run)
	select {
	case a := <-addrc:
		w.base = "https://" + a.String()
	case <-ctx.Done():
		t.Fatalf("monitor not serving: %v", ctx.Err())
	}
}

// checkTLSRules: the page is behind the API's listener, which wants a
// client certificate of the CA; with one it is served.
func (w *pageWorld) checkTLSRules(t *testing.T) {
	t.Helper()
	pool, err := pki.LoadPool(w.ca)
	if err != nil {
		t.Fatal(err)
	}
	bare := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if resp, err := bare.Get(w.base + "/"); err == nil {
		resp.Body.Close()
		t.Errorf("GET / without a client certificate: %s, want a refused TLS handshake", resp.Status)
	}
	hc, err := monitorapi.ClientOf(w.inventory(t).Monitor)
	if err != nil {
		t.Fatal(err)
	}
	hc.Timeout = 10 * time.Second
	resp, err := hc.Get(w.base + "/")
	if err != nil {
		t.Fatalf("GET / with a client certificate: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "/ui/app.js") {
		t.Fatalf("GET / with a client certificate: %s\n%s", resp.Status, body)
	}
}

// understudyBinary returns $UNDERSTUDY_BIN, or builds the binary.
func understudyBinary(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("UNDERSTUDY_BIN"); b != "" {
		return b
	}
	bin := filepath.Join(t.TempDir(), "understudy")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/understudy").CombinedOutput(); err != nil {
		t.Fatalf("build understudy: %v\n%s", err, out)
	}
	return bin
}

// startDrill runs `understudy drill` (vm-stop, restored) on the test
// service against the world's monitor; its result is appended to the
// history in monitor.state-dir, which the page lists. The channel gets its
// end.
func (w *pageWorld) startDrill(t *testing.T) <-chan error {
	t.Helper()
	bin := understudyBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	cmd := exec.CommandContext(ctx, bin, "drill", "-f", w.invPath, "--service", pageService, "--inject", "vm-stop",
		"--load", "2", "--via", "dns", "--restore", "--monitor", w.base, "--wait", "60s", "--timeout", "60s")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	finished := make(chan struct{})
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start the drill: %v", err)
	}
	go func() { // ends with the drill, at most its context's 3 minutes
		defer close(finished)
		err := cmd.Wait()
		cancel()
		t.Logf("understudy drill:\n%s", out.String())
		if err != nil {
			err = fmt.Errorf("understudy drill: %w", err)
		}
		done <- err
	}()
	t.Cleanup(func() { cancel(); <-finished })
	return done
}

// lastDrill is the newest drill of the world's history.
func (w *pageWorld) lastDrill(t *testing.T) *drill.Result {
	t.Helper()
	hist, err := report.ReadHistory(report.HistoryPath(w.inventory(t).Monitor.StateDir))
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) == 0 {
		t.Fatal("the drill left no history")
	}
	return &hist[len(hist)-1]
}

// runUntilCleanup runs fn in a goroutine until the test's cleanup.
func runUntilCleanup(t *testing.T, what string, fn func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("%s stopped with: %v", what, err)
			}
		case <-time.After(time.Minute):
			t.Errorf("%s did not stop within a minute", what)
		}
	})
}

// waitUntil retries fn every pollEvery until it returns nil, failing the
// test after limit with fn's last error.
func waitUntil(t *testing.T, limit time.Duration, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("wait until %s: gave up after %v: %v", what, limit, err)
		}
		time.Sleep(pollEvery)
	}
}
