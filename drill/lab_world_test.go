package drill_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/understudy/understudy/dnsupdate"
	"github.com/understudy/understudy/drill"
	"github.com/understudy/understudy/drill/report"
	"github.com/understudy/understudy/internal/icmp"
	"github.com/understudy/understudy/internal/labtest"
	"github.com/understudy/understudy/internal/labtest/labconn"
	"github.com/understudy/understudy/internal/monitorapi"
	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/lxd"
	"github.com/understudy/understudy/monitor"
	"github.com/understudy/understudy/proxy"
	"github.com/understudy/understudy/standby"
	agentconfig "github.com/understudy/understudy/standby/config"
)

// What this package owns in the lab (HACKING.md): instances and DNS names
// t-drill-*, primaries on host-a at 10.200.0.170-179, standby containers
// from the agent pool 10.200.1.140-149.
const (
	labPrefix   = "t-drill-"
	labBase     = 170 // TestIntegrationDrill: .170-.174
	labBaseB2B  = 175 // TestIntegrationDrillBackToBack: .175-.176
	labBaseObs  = 177 // TestIntegrationObservability: .177
	labBaseTbl  = 190 // BenchmarkFaultTable: .190-.194
	labPool     = "10.200.1.140-10.200.1.149"
	labSetup    = 2 * time.Minute
	labStepWait = 50 * time.Millisecond
)

// labSvc is one protected service of the test world and its primary.
type labSvc struct {
	Name, Mode, VM, Address, FQDN string
}

// labWorld is a private piece of the lab with the whole machinery running
// in-process: standby agent, monitor (controller) and proxy.
type labWorld struct {
	t        testing.TB
	lab      *labtest.Lab
	dir      string
	hv       *lxd.Client // the primaries' hypervisor (host-a, or host-b for newLabWorldOn)
	hvLay    labtest.Daemon
	standby  *lxd.Client
	dns      *dnsupdate.Client
	certs    string
	agentURL string
	monitor  string // http://127.0.0.1:PORT
	proxy    string // 127.0.0.1:PORT
	// proxyHold is the longest the proxy holds one request (the same for
	// every service of the world).
	proxyHold time.Duration
	services  []labSvc
	invPath   string
	log       *slog.Logger
	// stateDir is the monitor's state directory (its drill history);
	// proxyReg holds the proxy's metrics.
	stateDir string
	proxyReg *prometheus.Registry
	// fenceMethod, when set, is every service's fence-method.
	fenceMethod string
}

// newLabWorld builds a primary, a DNS record and a standby container per
// service (suffix → mode), with primaries from 10.200.0.base on, then runs
// agent, monitor and proxy until the test ends.
func newLabWorld(t testing.TB, base int, suffixes []string, modes []string) *labWorld {
	return newLabWorldOn(t, "host-a", base, suffixes, modes, "")
}

// newLabWorldFenced is newLabWorld with every service's fence-method set
// to method (empty: the inventory's default).
func newLabWorldFenced(t testing.TB, base int, suffixes []string, modes []string, method string) *labWorld {
	return newLabWorldOn(t, "host-a", base, suffixes, modes, method)
}

// newLabWorldOn is newLabWorldFenced with the primaries on the lab's
// hypervisor hv (host-a or host-b), from the bridge's address .base on.
func newLabWorldOn(t testing.TB, hv string, base int, suffixes []string, modes []string, method string) *labWorld {
	lab := labtest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), labSetup)
	defer cancel()
	w := &labWorld{t: t, lab: lab, dir: t.TempDir(), log: labLogger(t), hvLay: lab.HostA, fenceMethod: method}
	conns := labconn.Open(ctx, t, lab)
	w.hv, w.standby, w.dns = conns.HostA, conns.Standby, conns.DNS
	if hv == "host-b" {
		lab.NeedHostB(t)
		c, err := lxd.Connect(ctx, lxd.Conn{Name: "host-b", Socket: lab.HostB.Socket})
		if err != nil {
			t.Fatalf("connect to host-b: %v", err)
		}
		t.Cleanup(c.Close)
		w.hv, w.hvLay = c, lab.HostB
	}
	prefix := strings.TrimSuffix(w.hvLay.Gateway, ".1")
	for i, suffix := range suffixes {
		name := labPrefix + suffix
		s := labSvc{Name: name, Mode: modes[i], VM: name + "-vm",
			Address: fmt.Sprintf("%s.%d", prefix, base+i), FQDN: name + "." + lab.Zone}
		w.services = append(w.services, s)
		w.startPrimary(ctx, s)
		w.pointDNS(ctx, s)
		t.Cleanup(func() { w.deleteOn(w.standby, s.Name) })
	}
	w.certs = labtest.MakePKI(t, w.dir)
	w.startAgent(ctx)
	w.writeInventory()
	w.startMonitor(ctx)
	w.startProxy(ctx)
	return w
}

func (w *labWorld) deleteOn(c *lxd.Client, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Delete(ctx, name); err != nil {
		w.t.Logf("cleanup: delete %s on %s: %v", name, c.Name(), err)
	}
}

func (w *labWorld) startPrimary(ctx context.Context, s labSvc) {
	w.t.Helper()
	w.deleteOn(w.hv, s.VM) // a leftover of an interrupted run
	w.t.Cleanup(func() { w.deleteOn(w.hv, s.VM) })
	spec := lxd.InstanceSpec{Name: s.VM, Image: w.lab.Image, Config: map[string]string{
		"environment.IPADDR": s.Address + "/24", "environment.GATEWAY": w.hvLay.Gateway,
	}}
	if _, err := w.hv.Ensure(ctx, spec); err != nil {
		w.t.Fatalf("create primary %s: %v", s.VM, err)
	}
	if err := w.hv.Start(ctx, s.VM); err != nil {
		w.t.Fatalf("start primary %s: %v", s.VM, err)
	}
	w.waitFor(ctx, "primary "+s.VM+" answers", func(ctx context.Context) error {
		body, err := drill.Get(ctx, "http://"+s.Address+"/", "", 200)
		if err == nil && body != s.VM {
			err = fmt.Errorf("answers %q", body)
		}
		return err
	})
}

func (w *labWorld) pointDNS(ctx context.Context, s labSvc) {
	w.t.Helper()
	if err := w.dns.Replace(ctx, s.FQDN, []netip.Addr{netip.MustParseAddr(s.Address)}, 10*time.Second, nil); err != nil {
		w.t.Fatalf("point %s at %s: %v", s.FQDN, s.Address, err)
	}
	// The record stays when the test ends (dnsupdate has no delete); the
	// next run points it at the primary again.
}

const labAgentTemplate = `name: t-drill-standby
listen: 127.0.0.1:0
tls: {cert: {{.PKI}}/agent.crt, key: {{.PKI}}/agent.key, client-ca: {{.PKI}}/ca.crt}
incus: {socket: {{.Socket}}}
state-dir: {{.State}}
network: {gateway: {{.Gateway}}, prefix-len: 24, pool: {{.Pool}}}
capacity: {containers: 20, memory: 4GiB}
activate-timeout: 20s
criu: {disable: true}
`

func (w *labWorld) startAgent(ctx context.Context) {
	w.t.Helper()
	cfg, err := agentconfig.Parse("agent.yaml", []byte(labtest.Render(w.t, labAgentTemplate, map[string]string{
		"PKI": w.certs, "Socket": w.lab.Standby.Socket, "State": filepath.Join(w.dir, "agent"),
		"Gateway": w.lab.Standby.Gateway, "Pool": labPool,
	})))
	if err != nil {
		w.t.Fatalf("agent config: %v", err)
	}
	addrc := make(chan net.Addr, 1)
	w.runUntilCleanup("agent", func(ctx context.Context) error {
		return standby.Run(ctx, cfg, standby.RunOptions{Logger: w.log.With("side", "agent"), Version: "drill-test",
			Connect: standby.ConnectLXD, Serving: func(a net.Addr) { addrc <- a }})
	})
	select {
	case a := <-addrc:
		w.agentURL = "https://" + a.String()
	case <-ctx.Done():
		w.t.Fatalf("agent not serving: %v", ctx.Err())
	}
}

func (w *labWorld) writeInventory() {
	w.t.Helper()
	text := labtest.Render(w.t, labtest.InventoryTemplate, map[string]any{
		"Lab": true, "Listen": "127.0.0.1:9179", "Standby": "t-drill-standby", "DNS": w.lab.DNSServer, "Zone": w.lab.Zone, "Key": w.lab.KeyFile, "State": filepath.Join(w.dir, "state"),
		"PKI": w.certs, "Gateway": w.hvLay.Gateway, "Socket": w.hvLay.Socket, "Hypervisor": w.hvLay.Name,
		"Agent": w.agentURL, "Services": w.services, "Image": w.lab.Image,
		// A sync for every service, so the monitor exports understudy_sync_*
		// (TestIntegrationObservability); the primaries have no content
		// directory, so each sync fails (path missing) and copies nothing.
		"Sync": "{paths: [/var/www/content], every: 1m}", "StandbySocket": w.lab.Standby.Socket,
	})
	if w.fenceMethod != "" {
		text = strings.ReplaceAll(text, "\n    mode: ", "\n    fence-method: "+w.fenceMethod+"\n    mode: ")
	}
	w.invPath = filepath.Join(w.dir, "inventory.yaml")
	if err := os.WriteFile(w.invPath, []byte(text), 0o600); err != nil {
		w.t.Fatal(err)
	}
}

func (w *labWorld) inventory() *inventory.Inventory {
	inv, err := inventory.Load(w.invPath)
	if err != nil {
		w.t.Fatalf("load inventory: %v", err)
	}
	return inv
}

func (w *labWorld) startMonitor(ctx context.Context) {
	w.t.Helper()
	addrc := make(chan net.Addr, 1)
	ctrl, err := monitor.New(w.inventory(), monitor.Options{
		Logger: w.log.With("side", "monitor"), Registry: prometheus.NewRegistry(),
		Listen: "127.0.0.1:0", Serving: func(a net.Addr) { addrc <- a },
	})
	if err != nil {
		w.t.Fatalf("controller: %v", err)
	}
	// As `understudy monitor`: the drill history's latest drills.
	w.stateDir = ctrl.StateDir()
	ctrl.MustRegister(report.NewMonitorHistoryCollector(ctrl))
	w.runUntilCleanup("monitor", ctrl.Run)
	select {
	case a := <-addrc:
		w.monitor = "http://" + a.String()
	case <-ctx.Done():
		w.t.Fatalf("monitor not serving: %v", ctx.Err())
	}
}

// apiClient is a client of the monitor's API with the inventory's
// credential (its bearer token, labtest.InventoryTemplate); no timeout, so
// it serves the proxy's placement stream too.
func (w *labWorld) apiClient() *http.Client {
	w.t.Helper()
	hc, err := monitorapi.ClientOf(w.inventory().Monitor)
	if err != nil {
		w.t.Fatalf("API client: %v", err)
	}
	return hc
}

// httpMonitor is the drill's client of the world's monitor.
func (w *labWorld) httpMonitor() *drill.HTTPMonitor {
	hc := w.apiClient()
	hc.Timeout = 10 * time.Second
	return &drill.HTTPMonitor{Base: w.monitor, Client: hc}
}

func (w *labWorld) startProxy(ctx context.Context) {
	w.t.Helper()
	mon, err := proxy.NewMonitorClient(w.monitor, w.apiClient())
	if err != nil {
		w.t.Fatal(err)
	}
	pinger, err := icmp.New()
	if err != nil {
		w.t.Fatalf("icmp pinger (root needed): %v", err)
	}
	w.t.Cleanup(func() { pinger.Close() })
	pcfg := proxy.FromInventory(w.inventory())
	w.proxyHold = proxy.DefaultHold
	if len(pcfg.Services) > 0 && pcfg.Services[0].Hold > 0 {
		w.proxyHold = pcfg.Services[0].Hold
	}
	w.proxyReg = prometheus.NewRegistry()
	// As `understudy proxy` with a client certificate: this world's proxy
	// talks plain HTTP to the monitor, so it is given the monitor's client
	// certificate, the one a proxy of the world's CA would present.
	w.proxyReg.MustRegister(proxy.CertExpiryCollector(filepath.Join(w.certs, "monitor.crt")))
	p, err := proxy.New(pcfg, proxy.Options{Monitor: mon, Pinger: pinger, Logger: w.log.With("side", "proxy"), Registerer: w.proxyReg})
	if err != nil {
		w.t.Fatalf("proxy: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		w.t.Fatal(err)
	}
	w.proxy = l.Addr().String()
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	w.t.Cleanup(func() { srv.Close() })
	w.runUntilCleanup("proxy", p.Run)
	_ = ctx
}

// runUntilCleanup runs fn in a goroutine until the test's cleanup.
func (w *labWorld) runUntilCleanup(what string, fn func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	w.t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				w.t.Errorf("%s stopped with: %v", what, err)
			}
		case <-time.After(time.Minute):
			w.t.Errorf("%s did not stop within a minute", what)
		}
	})
}

// waitFor retries fn until it returns nil or ctx ends.
func (w *labWorld) waitFor(ctx context.Context, what string, fn func(context.Context) error) {
	w.t.Helper()
	for {
		err := fn(ctx)
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			w.t.Fatalf("wait until %s: %v (last: %v)", what, ctx.Err(), err)
		case <-time.After(labStepWait):
		}
	}
}

// labLogger sends warnings and errors to the test log (everything with
// DRILL_DEBUG=1).
func labLogger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("DRILL_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return labtest.Logger(t, level)
}
