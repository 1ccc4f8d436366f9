package e2e

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/dnsupdate"
	"github.com/understudy/understudy/internal/labtest"
	"github.com/understudy/understudy/internal/labtest/labconn"
	"github.com/understudy/understudy/lxd"
	"github.com/understudy/understudy/standby"
	agentconfig "github.com/understudy/understudy/standby/config"
)

// Names and addresses this package owns in the lab (see HACKING.md): instances
// and DNS names t-e2e-*, primaries on host-a from 10.200.0.160-169, standby
// containers from the agent pool 10.200.1.150-169.
const (
	prefix     = "t-e2e-"
	agentPool  = "10.200.1.150-10.200.1.169"
	stepWait   = 50 * time.Millisecond // pause between two looks at a condition
	worldSetup = 2 * time.Minute       // bound of building a world
)

// svc is one protected service of a world and its primary.
type svc struct {
	Name    string // service and standby container name, t-e2e-...
	Mode    string // warm or cold
	VM      string // primary instance on host-a
	Address string // primary address, 10.200.0.160-169
	FQDN    string
}

// world is one test's private piece of the lab.
type world struct {
	t        testing.TB
	lab      *labtest.Lab
	dir      string
	hostA    *lxd.Client
	standby  *lxd.Client
	dns      *dnsupdate.Client // to dnsSrv, with its key
	dnsSrv   labtest.DNSServer // the zone's primary the world's inventory names
	agentURL string
	certs    string // PKI directory
	services []svc
	invPath  string
	stateDir string
	log      *slog.Logger
	// sync, when set, is every service's services[].sync (a flow
	// mapping); the standby then names its Incus socket (withSync).
	sync string
	// image is the primaries' and the standby containers' image alias
	// (the lab's busybox image unless newWorldImage chose another).
	image string
	// criu is the agent's criu mapping ("{disable: true}" when empty).
	criu string
}

// newWorld builds primaries, DNS records and a standby agent for services
// (name suffix → mode), with primary addresses from base (160-169; one per test).
// Its DNS is the lab's BIND.
func newWorld(t testing.TB, base int, modes map[string]string) *world {
	t.Helper()
	return newWorldOn(t, base, modes, labtest.DNSBind)
}

// newWorldOn is newWorld with the lab's DNS server called dnsName
// (labtest.DNSBind, DNSKnot or DNSPDNS) as the zone's primary: the records
// are made there and the inventory's dns section names it and its key.
func newWorldOn(t testing.TB, base int, modes map[string]string, dnsName string) *world {
	t.Helper()
	return newWorldWith(t, base, modes, dnsName, agentPool, "{containers: 20, memory: 4GiB}")
}

// newWorldWith is newWorldOn with the standby agent's address pool and its
// capacity (agent.yaml's capacity mapping) given.
func newWorldWith(t testing.TB, base int, modes map[string]string, dnsName, pool, capacity string) *world {
	t.Helper()
	return newWorldNamed(t, prefix, base, modes, dnsName, pool, capacity)
}

// newWorldNamed is newWorldWith with the services' name prefix given
// (another test family's, such as the seeds benchmarks' t-seeds-mig-).
func newWorldNamed(t testing.TB, namePrefix string, base int, modes map[string]string, dnsName, pool, capacity string) *world {
	t.Helper()
	return newWorldImage(t, namePrefix, base, modes, dnsName, pool, capacity, "", "")
}

// newWorldImage is newWorldNamed with the image of the primaries and of
// the standby containers given (such as the seeds benchmarks'
// understudy-debian; "" is the lab's busybox image) and the agent's criu
// mapping (such as "{path: /var/lib/understudy-criu/bin/criu}"; "" disables it).
func newWorldImage(t testing.TB, namePrefix string, base int, modes map[string]string, dnsName, pool, capacity, image, criu string) *world {
	t.Helper()
	lab := labtest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), worldSetup)
	defer cancel()
	if image == "" {
		image = lab.Image
	}
	w := &world{t: t, lab: lab, dir: t.TempDir(), log: testLogger(t), dnsSrv: lab.DNSServerNamed(t, dnsName), image: image, criu: criu}
	labtest.RequireDNS(t, w.dnsSrv)
	w.stateDir = filepath.Join(w.dir, "state")
	conns := labconn.Open(ctx, t, lab)
	w.hostA, w.standby, w.dns = conns.HostA, conns.Standby, conns.DNS
	if dnsName != labtest.DNSBind {
		w.dns = dnsClient(t, w.dnsSrv, lab.Zone)
	}
	i := 0
	for _, suffix := range sortedKeys(modes) {
		name := namePrefix + suffix
		s := svc{Name: name, Mode: modes[suffix], VM: name + "-vm",
			Address: fmt.Sprintf("10.200.0.%d", base+i), FQDN: name + "." + lab.Zone}
		i++
		w.services = append(w.services, s)
		w.startPrimary(ctx, s)
		w.pointDNS(ctx, s)
		t.Cleanup(func() { w.removeStandbyContainer(s.Name) })
	}
	w.certs = labtest.MakePKI(t, w.dir)
	w.startAgent(ctx, pool, capacity)
	w.writeInventory()
	return w
}

// startPrimary creates and starts a primary on host-a and removes it at the end.
func (w *world) startPrimary(ctx context.Context, s svc) {
	w.t.Helper()
	w.startPrimaryOn(ctx, w.hostA, w.lab.HostA.Gateway, s)
}

// startPrimaryOn creates and starts a primary on the hypervisor hv (whose
// bridge address is gateway) and removes it at the end.
func (w *world) startPrimaryOn(ctx context.Context, hv *lxd.Client, gateway string, s svc) {
	w.t.Helper()
	cleanup := func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := hv.Delete(cctx, s.VM); err != nil {
			w.t.Logf("cleanup: delete primary %s: %v", s.VM, err)
		}
	}
	cleanup() // a leftover of an interrupted run
	w.t.Cleanup(cleanup)
	spec := lxd.InstanceSpec{Name: s.VM, Image: w.image, Config: map[string]string{
		"environment.IPADDR": s.Address + "/24", "environment.GATEWAY": gateway,
	}}
	if _, err := hv.Ensure(ctx, spec); err != nil {
		w.t.Fatalf("create primary %s: %v", s.VM, err)
	}
	if err := hv.Start(ctx, s.VM); err != nil {
		w.t.Fatalf("start primary %s: %v", s.VM, err)
	}
	if err := waitHTTP(ctx, s.Address, s.VM); err != nil {
		w.t.Fatalf("primary %s: %v", s.VM, err)
	}
}

// pointDNS points the service's name at its primary and deletes it at the end.
func (w *world) pointDNS(ctx context.Context, s svc) {
	w.t.Helper()
	if err := w.dns.Replace(ctx, s.FQDN, []netip.Addr{netip.MustParseAddr(s.Address)}, 10*time.Second, nil); err != nil {
		w.t.Fatalf("point %s at %s: %v", s.FQDN, s.Address, err)
	}
	w.t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// dnsupdate only replaces; nsupdate (bind9-dnsutils) deletes the name.
		cmd := exec.CommandContext(cctx, "nsupdate", "-k", w.dnsSrv.KeyFile)
		cmd.Stdin = strings.NewReader(fmt.Sprintf("server %s\nzone %s\nupdate delete %s A\nsend\n",
			strings.Replace(w.dnsSrv.Addr, ":", " ", 1), w.lab.Zone, s.FQDN))
		if out, err := cmd.CombinedOutput(); err != nil {
			w.t.Logf("cleanup: delete %s: %v: %s", s.FQDN, err, out)
		}
	})
}

func (w *world) removeStandbyContainer(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := w.standby.Delete(ctx, name); err != nil {
		w.t.Logf("cleanup: delete standby container %s: %v", name, err)
	}
}

const agentTemplate = `name: t-e2e-standby
listen: 127.0.0.1:0
tls: {cert: {{.PKI}}/agent.crt, key: {{.PKI}}/agent.key, client-ca: {{.PKI}}/ca.crt}
incus: {socket: {{.Socket}}}
state-dir: {{.State}}
network: {gateway: {{.Gateway}}, prefix-len: 24, pool: {{.Pool}}}
capacity: {{.Capacity}}
activate-timeout: 20s
criu: {{.CRIU}}
load-source: cgroups
cpus: 1
`

// startAgent runs a standby agent in-process against standby-1, with its
// address pool and capacity.
func (w *world) startAgent(ctx context.Context, pool, capacity string) {
	w.t.Helper()
	w.agentURL = w.runAgent(ctx, "agent", labtest.Render(w.t, agentTemplate, map[string]string{
		"PKI": w.certs, "Socket": w.lab.Standby.Socket, "State": filepath.Join(w.dir, "agent"),
		"Gateway": w.lab.Standby.Gateway, "Pool": pool, "Capacity": capacity, "CRIU": cmp.Or(w.criu, "{disable: true}"),
	}))
}

// runAgent runs an agent in-process with the config text until the test
// ends, and returns its URL.
func (w *world) runAgent(ctx context.Context, side, text string) string {
	w.t.Helper()
	cfg, err := agentconfig.Parse(side+".yaml", []byte(text))
	if err != nil {
		w.t.Fatalf("%s config: %v", side, err)
	}
	actx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- standby.Run(actx, cfg, standby.RunOptions{
			Logger: w.log.With("side", side), Version: "e2e", Connect: standby.ConnectLXD,
			Serving: func(a net.Addr) { addrc <- a },
		})
	}()
	w.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			w.t.Errorf("%s shutdown: %v", side, err)
		}
	})
	select {
	case a := <-addrc:
		return "https://" + a.String()
	case err := <-done:
		w.t.Fatalf("%s did not start: %v", side, err)
	case <-ctx.Done():
		w.t.Fatalf("%s not serving: %v", side, ctx.Err())
	}
	return ""
}

// writeInventory writes the world's inventory (monitor.listen is replaced
// by a free port when the controller starts).
func (w *world) writeInventory() {
	w.t.Helper()
	text := labtest.Render(w.t, labtest.InventoryTemplate, map[string]any{
		"Listen": "127.0.0.1:9189", "Standby": "t-e2e-standby", "DNS": w.dnsSrv.Addr, "Zone": w.lab.Zone, "Key": w.dnsSrv.KeyFile, "State": w.stateDir,
		"PKI": w.certs, "Gateway": w.lab.HostA.Gateway, "Socket": w.lab.HostA.Socket,
		"Agent": w.agentURL, "Services": w.services, "Image": w.image,
		"Sync": w.sync, "StandbySocket": w.standbySocket(),
	})
	w.invPath = filepath.Join(w.dir, "inventory.yaml")
	if err := os.WriteFile(w.invPath, []byte(text), 0o600); err != nil {
		w.t.Fatal(err)
	}
}

// withSync gives every service of the world the sync spec (a flow
// mapping such as "{paths: [/var/www], every: 2s}") and rewrites the
// inventory.
func (w *world) withSync(spec string) {
	w.t.Helper()
	w.sync = spec
	w.writeInventory()
}

// standbySocket is standby-1's Incus socket when the world syncs (the
// monitor writes the standby containers through it), else empty.
func (w *world) standbySocket() string {
	if w.sync == "" {
		return ""
	}
	return w.lab.Standby.Socket
}

// dnsClient is a client of the lab's DNS server srv with its TSIG key.
func dnsClient(t testing.TB, srv labtest.DNSServer, zone string) *dnsupdate.Client {
	t.Helper()
	key, err := dnsupdate.LoadKeyFile(srv.KeyFile)
	if err != nil {
		t.Fatalf("load the TSIG key of %s: %v", srv.Product, err)
	}
	c, err := dnsupdate.New(dnsupdate.Config{Server: srv.Addr, Zone: zone, Key: key})
	if err != nil {
		t.Fatalf("dns client for %s: %v", srv.Product, err)
	}
	return c
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// testLogger sends logs to the test log at info level (debug with
// E2E_DEBUG=1).
func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelInfo
	if os.Getenv("E2E_DEBUG") != "" {
		level = slog.LevelDebug
	}
	if os.Getenv("E2E_QUIET") != "" {
		level = slog.LevelError
	}
	return labtest.Logger(t, level)
}

// quietLogger keeps benchmark output to the report: warnings and errors only.
func quietLogger(t testing.TB) *slog.Logger {
	return labtest.Logger(t, slog.LevelWarn)
}
