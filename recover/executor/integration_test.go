package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/dnsupdate"
	"github.com/understudy/understudy/internal/labtest"
	"github.com/understudy/understudy/lxd"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/store"
)

// The integration test moves a real container through the lab: from
// standby-1 to spare-1 with the lxd adapter (stop-copy-start), DNS swapped
// at the lab's BIND with compare-and-swap, then back to a primary on host-a.
// Names: instance t-recover-mig on each daemon, record t-recover-mig.lab.test.;
// addresses 10.200.0.139 (primary), 10.200.1.139 (standby), 10.200.2.139 (spare).
// The adapters below are the shape the monitor daemon (package monitor) needs.

const migName = "t-recover-mig"

var (
	migPrimary = netip.MustParseAddr("10.200.0.139")
	migStandby = netip.MustParseAddr("10.200.1.139")
	migSpare   = netip.MustParseAddr("10.200.2.139")
)

// lxdMigrator copies between two daemons with lxd.Client.Copy.
type lxdMigrator struct {
	src, dst *lxd.Client
	config   map[string]string // the copy's address on the spare
	mu       sync.Mutex
	took     []time.Duration
}

func (m *lxdMigrator) Copy(ctx context.Context, svc recover.Service, _, _ string) (netip.Addr, error) {
	start := time.Now()
	err := m.src.Copy(ctx, m.dst, svc.Name, lxd.CopyOptions{Start: true, Config: m.config})
	if errors.Is(err, lxd.ErrAlreadyExists) { // a re-run: the copy is there
		err = m.dst.Start(ctx, svc.Name)
	}
	if err != nil {
		return netip.Addr{}, err
	}
	m.mu.Lock()
	m.took = append(m.took, time.Since(start))
	m.mu.Unlock()
	return m.dst.WaitIPv4(ctx, svc.Name, "eth0")
}

func (m *lxdMigrator) DeleteCopy(ctx context.Context, svc recover.Service, _ string) error {
	return m.dst.Delete(ctx, svc.Name)
}

// lxdSlot stands in for the standby agent: its container is warm.
type lxdSlot struct{ c *lxd.Client }

func (s lxdSlot) Activate(ctx context.Context, _ uint64, name string) (Activation, error) {
	if err := s.c.Start(ctx, name); err != nil {
		return Activation{}, err
	}
	ip, err := s.c.WaitIPv4(ctx, name, "eth0")
	return Activation{Address: ip}, err
}

func (s lxdSlot) Deactivate(ctx context.Context, _ uint64, name string) error {
	return s.c.Start(ctx, name) // warm: keeps running
}

func (s lxdSlot) ConfirmDown(context.Context, recover.Service) (bool, string, error) {
	return true, "", nil
}

// bindDNS adapts the dnsupdate client.
type bindDNS struct{ c *dnsupdate.Client }

func (d bindDNS) Replace(ctx context.Context, name string, addrs, expect []netip.Addr) error {
	err := d.c.Replace(ctx, name, addrs, 10*time.Second, expect)
	if errors.Is(err, dnsupdate.ErrPrecondition) {
		return fmt.Errorf("%w: %w", recover.ErrPrecondition, err)
	}
	return err
}

func (d bindDNS) Lookup(ctx context.Context, name string) ([]netip.Addr, error) {
	a, err := d.c.Lookup(ctx, name)
	return a.Addrs, err
}

// httpCheck passes when GET / answers the instance's name.
type httpCheck struct{}

func (httpCheck) Check(ctx context.Context, service string, addr netip.Addr) error {
	body, err := get(ctx, addr)
	if err == nil && body != service {
		err = fmt.Errorf("answered %q", body)
	}
	return err
}

func get(ctx context.Context, addr netip.Addr) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr.String()+"/", nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s", resp.Status)
	}
	return strings.TrimSpace(string(b)), err
}

func TestIntegrationMigrateAndFailBack(t *testing.T) {
	lab := labtest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	connect := func(d labtest.Daemon) *lxd.Client {
		c, err := lxd.Connect(ctx, lxd.Conn{Name: d.Name, URL: d.HTTPS, ClientCert: lab.ClientCert, ClientKey: lab.ClientKey, ServerCert: d.ServerCert})
		if err != nil {
			t.Fatalf("connect to %s: %v", d.Name, err)
		}
		t.Cleanup(c.Close)
		return c
	}
	hostA, standby, spare := connect(lab.HostA), connect(lab.Standby), connect(lab.Spare)
	for _, c := range []struct {
		c    *lxd.Client
		d    labtest.Daemon
		addr netip.Addr
	}{{hostA, lab.HostA, migPrimary}, {standby, lab.Standby, migStandby}} {
		fresh(t, c.c, migName)
		spec := lxd.InstanceSpec{Name: migName, Image: lab.Image, Memory: 64 << 20,
			Config: map[string]string{"environment.IPADDR": c.addr.String() + "/24", "environment.GATEWAY": c.d.Gateway}}
		if _, err := c.c.Ensure(ctx, spec); err != nil {
			t.Fatal(err)
		}
		if err := c.c.Start(ctx, migName); err != nil {
			t.Fatal(err)
		}
	}
	fresh(t, spare, migName)

	key, err := dnsupdate.LoadKeyFile(lab.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := dnsupdate.New(dnsupdate.Config{Server: lab.DNSServer, Zone: lab.Zone, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	dns := bindDNS{dc}
	fqdn := migName + "." + lab.Zone
	if err := dns.Replace(ctx, fqdn, []netip.Addr{migStandby}, nil); err != nil { // the service failed over earlier
		t.Fatal(err)
	}
	for _, a := range []netip.Addr{migPrimary, migStandby} {
		// A container just started serves once its init has run: wait for
		// it (bounded by ctx) rather than look once.
		if err := awaitServing(ctx, a); err != nil {
			t.Fatalf("%s not serving before the test: %v", a, err)
		}
	}

	store := store.NewMemory()
	if err := store.Save(ctx, recover.Record{Service: migName, State: recover.OnStandby, Seq: 1, Placement: recover.Placement{Service: migName,
		Where: recover.AtStandby, Host: "standby-1", Address: migStandby, Since: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	mig := &lxdMigrator{src: standby, dst: spare, config: map[string]string{
		"environment.IPADDR": migSpare.String() + "/24", "environment.GATEWAY": lab.Spare.Gateway}}
	slot := lxdSlot{standby}
	ectx, stop := context.WithCancel(ctx)
	exec := New(Config{
		Store: store,
		Deps: Deps{Confirmer: slot, Activator: slot, Health: httpCheck{}, DNS: dns, Notifier: &fakeNotifier{},
			Migrator: mig, Deactivator: slot},
		Services: map[string]recover.Config{migName: {Service: recover.Service{Name: migName, FQDN: fqdn, VM: migName, Address: migPrimary,
			Standby: "standby-1", Mode: "warm", Confirm: "none", Fence: "none"}}},
		Epoch: 1, HealthInterval: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
	})
	if err := exec.Start(ectx); err != nil {
		t.Fatal(err)
	}
	defer func() { stop(); exec.Wait() }()

	cl := &labtest.Outages{}
	cctx, stopClient := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// A client that resolves the name at BIND and GETs the address.
	wg.Go(func() {
		cl.Loop(cctx, 20*time.Millisecond, func(ctx context.Context) error {
			addrs, err := dns.Lookup(ctx, fqdn)
			if err != nil {
				return err
			}
			if len(addrs) == 0 {
				return fmt.Errorf("resolve %s: no address", fqdn)
			}
			_, err = get(ctx, addrs[0])
			return err
		})
	})
	defer func() { stopClient(); wg.Wait() }()
	time.Sleep(200 * time.Millisecond) // the client sees the standby first

	if err := exec.Migrate(ctx, migName, "spare-1", recover.FromCLI, "integration"); err != nil {
		t.Fatal(err)
	}
	r := waitMove(t, exec, migName)
	if r.Incident.Result != recover.ResultMigrated || r.State != recover.OnSpare || r.Placement.Address != migSpare {
		t.Fatalf("migration: %s %s at %s; last error %q", r.Incident.Result, r.State, r.Placement.Address, r.Incident.LastError)
	}
	if got, _ := dns.Lookup(ctx, fqdn); len(got) != 1 || got[0] != migSpare {
		t.Errorf("DNS after migration = %v, want %s", got, migSpare)
	}
	if st, err := standby.State(ctx, migName); err != nil || !st.Running {
		t.Errorf("standby slot after migration: %+v %v; want warm (running)", st, err)
	}
	logMove(t, r, "held", "copied")
	t.Logf("copy (stop-copy-start, lxd adapter): %v", mig.took)

	time.Sleep(200 * time.Millisecond)
	if err := exec.Failback(ctx, migName, recover.FromCLI, "integration"); err != nil {
		t.Fatal(err)
	}
	r = waitMove(t, exec, migName)
	if r.Incident.Result != recover.ResultFailedBack || r.State != recover.Primary {
		t.Fatalf("failback: %s %s; last error %q", r.Incident.Result, r.State, r.Incident.LastError)
	}
	if got, _ := dns.Lookup(ctx, fqdn); len(got) != 1 || got[0] != migPrimary {
		t.Errorf("DNS after failback = %v, want %s", got, migPrimary)
	}
	if _, err := spare.State(ctx, migName); !errors.Is(err, lxd.ErrNotFound) {
		t.Errorf("the spare's copy after failback: %v, want it deleted", err)
	}
	logMove(t, r, "requested", "dns-flipped")
	time.Sleep(200 * time.Millisecond)
	stopClient()
	wg.Wait()
	ok, fail, worst := cl.Report()
	t.Logf("client through DNS (GET every 20 ms, resolving at BIND each time): %d ok, %d failed, longest interruption %v", ok, fail, worst)
	if ok == 0 {
		t.Error("the client never reached the service")
	}
}

// waitMove waits (bounded) until service's migration or failback closed.
func waitMove(t *testing.T, exec *Executor, service string) recover.Record {
	t.Helper()
	for range 600 {
		for _, r := range exec.Records() {
			if r.Service == service && r.Incident != nil && r.Incident.Kind != recover.KindFailover && !r.Incident.Open() {
				return r
			}
			if r.Service == service && r.State == recover.Stuck {
				t.Fatalf("stuck: %s", r.Incident.Stuck)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the move did not end within 60s")
	return recover.Record{}
}

func logMove(t *testing.T, r recover.Record, from, to recover.Phase) {
	t.Helper()
	inc := r.Incident
	a, _ := inc.Phase(from)
	b, _ := inc.Phase(to)
	var ph []string
	for _, p := range inc.Phases {
		ph = append(ph, fmt.Sprintf("%s@%dms", p.Phase, p.At.Sub(inc.Opened).Milliseconds()))
	}
	t.Logf("%s %s in %v (%s -> %s: %v): %s", inc.Kind, inc.Result, inc.Closed.Sub(inc.Opened), from, to, b.Sub(a), strings.Join(ph, " "))
}

// fresh deletes a leftover instance and deletes it again when the test ends.
func fresh(t *testing.T, c *lxd.Client, name string) {
	t.Helper()
	del := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Delete(ctx, name); err != nil {
			t.Errorf("remove %s on %s: %v", name, c.Name(), err)
		}
	}
	del()
	t.Cleanup(del)
}

// awaitServing runs the service check against addr until it passes or ctx
// ends, and returns the last error then.
func awaitServing(ctx context.Context, addr netip.Addr) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := (httpCheck{}).Check(ctx, migName, addr)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-tick.C:
		}
	}
}
