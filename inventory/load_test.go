package inventory_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/inventory"
)

func TestLoadValid(t *testing.T) {
	inv, err := inventory.Load("testdata/valid.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	dir, _ := filepath.Abs("testdata")
	checks := []struct {
		name      string
		got, want any
	}{
		{"lab", inv.Lab, true},
		{"dns.zone", inv.DNS.Zone, "lab.test."},
		{"dns.tsig-key-file made absolute", inv.DNS.TSIGKeyFile, filepath.Join(dir, "tsig.key")},
		{"dns.ttl", inv.DNS.TTL, 10 * time.Second},
		{"dns.verify", inv.DNS.Verify, []string{"127.0.0.1:5354"}},
		{"monitor.state-dir made absolute", inv.Monitor.StateDir, filepath.Join(dir, "state")},
		{"monitor.interval", inv.Monitor.Interval, 250 * time.Millisecond},
		{"monitor.agent-tls.key", inv.Monitor.AgentTLS.Key, filepath.Join(dir, "pki/monitor.key")},
		{"monitor.etcd.endpoints", inv.Monitor.Etcd.Endpoints, []string{"https://127.0.0.1:2379"}},
		{"monitor.flap", inv.Monitor.Flap, inventory.Flap{Max: 5, Window: 30 * time.Minute}},
		{"hypervisors[0].incus.socket", inv.Hypervisors[0].Incus.Socket, "/var/lib/understudy-lab/host-a/unix.socket"},
		{"hypervisors[1].incus.client-cert", inv.Hypervisors[1].Incus.ClientCert, filepath.Join(dir, "client.crt")},
		{"vms[1].instance defaults to name", inv.VMs[1].Instance, "api-vm"},
		{"standby[0].capacity", inv.Standby[0].Capacity, inventory.Capacity{Containers: 2, Memory: 512 << 20}},
		{"spares[0].capacity.memory", inv.Spares[0].Capacity.Memory, int64(2 << 30)},
		{"spares[0].agent", inv.Spares[0].Agent, "https://127.0.0.1:9445"},
		{"proxy.probe-timeout", inv.Proxy.ProbeTimeout, 15 * time.Millisecond},
		{"services[0].check.http", *inv.Services[0].Check.HTTP, inventory.HTTPCheck{Path: "/health", ExpectStatus: 204, Scheme: "http"}},
		{"services[0].mode", inv.Services[0].Mode, inventory.ModeWarm},
		{"services[0].failback", inv.Services[0].Failback, inventory.FailbackAuto},
		{"services[0].probe-timeout", inv.Services[0].ProbeTimeout, 20 * time.Millisecond},
		{"services[0].max-on-standby", inv.Services[0].MaxOnStandby, time.Hour},
		{"services[0].container.config", inv.Services[0].Container.Config, map[string]string{"security.nesting": "false", "environment.MODE": "standby"}},
		{"services[1].check.tcp", inv.Services[1].Check.TCP != nil, true},
		{"services[1].hold from proxy.hold", inv.Services[1].Hold, 4 * time.Second},
		{"services[1].fence-command", inv.Services[1].FenceCommand, []string{"/bin/true", "api-vm"}},
		{"services[1].playbook made absolute", inv.Services[1].Playbook, filepath.Join(dir, "playbook.yaml")},
		{"services[1].container.data-disk", *inv.Services[1].Container.DataDisk, inventory.DataDisk{Source: "/srv/api", Path: "/data"}},
		{"migration.overload", inv.Migration.Overload, inventory.Overload{Enabled: true, Trigger: inventory.TriggerStealAndLoad, Steal: 15, Load: 1.5, CPU: inventory.DefaultOverloadCPU, Memory: inventory.DefaultOverloadMemory, Hysteresis: inventory.DefaultOverloadHysteresis, Window: 3 * time.Minute, CoolDown: inventory.DefaultOverloadCoolDown}},
		{"migration.bandwidth 100Mbit in bytes/s", inv.Migration.Bandwidth, int64(12_500_000)},
		{"migration.max-parallel", inv.Migration.MaxParallel, 2},
		{"migration.live", inv.Migration.Live, inventory.LiveAuto},
		{"cost", inv.Cost, inventory.Cost{VMMonth: 120.5, Currency: "EUR"}},
		{"File", inv.File(), filepath.Join(dir, "valid.yaml")},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

// minimal sets only the required keys, so everything else takes its default.
const minimal = `
dns: {server: ns.example.com, zone: Example.COM, tsig-key-file: /k}
hypervisors: [{name: h, address: "::1", incus: {socket: /s}}]
vms: [{name: v, hypervisor: h, address: 10.0.0.1}]
standby: [{name: s, agent: "https://10.0.0.2:9443", capacity: {containers: 1, memory: 1Gi}}]
services:
  - {name: web, fqdn: www.example.com, vm: v, port: 80, check: {http: {}}, standby: s, container: {image: i, limits: {memory: 1G}}}
`

// TestDefaults checks every default documented in README.md.
func TestDefaults(t *testing.T) {
	inv, err := inventory.Parse("minimal.yaml", []byte(minimal))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	s := inv.Services[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"dns.server gets port 53", inv.DNS.Server, "ns.example.com:53"},
		{"dns.zone canonical", inv.DNS.Zone, "example.com."},
		{"dns.ttl", inv.DNS.TTL, inventory.DefaultDNSTTL},
		{"dns.timeout", inv.DNS.Timeout, inventory.DefaultDNSTimeout},
		{"monitor.listen", inv.Monitor.Listen, inventory.DefaultMonitorListen},
		{"monitor.state-dir", inv.Monitor.StateDir, inventory.DefaultStateDir},
		{"monitor.interval", inv.Monitor.Interval, inventory.DefaultInterval},
		{"monitor.timeout is half the interval", inv.Monitor.Timeout, inventory.DefaultInterval / 2},
		{"monitor.fails", inv.Monitor.Fails, inventory.DefaultFails},
		{"monitor.passes", inv.Monitor.Passes, inventory.DefaultPasses},
		{"monitor.fast-interval is interval/(fails-1)", inv.Monitor.FastInterval, inventory.DefaultInterval / (inventory.DefaultFails - 1)},
		{"monitor.etcd", inv.Monitor.Etcd, (*inventory.Etcd)(nil)},
		{"monitor.flap", inv.Monitor.Flap, inventory.Flap{Max: inventory.DefaultFlapMax, Window: inventory.DefaultFlapWindow}},
		{"hypervisor zone", inv.Hypervisors[0].Zone, inventory.DefaultZone},
		{"standby zone", inv.Standby[0].Zone, inventory.DefaultZone},
		{"proxy.listen", inv.Proxy.Listen, ""},
		{"proxy.monitor", inv.Proxy.Monitors, []string{"http://" + inventory.DefaultMonitorListen}},
		{"proxy.probe-timeout", inv.Proxy.ProbeTimeout, inventory.DefaultProbeTimeout},
		{"proxy.hold", inv.Proxy.Hold, inventory.DefaultHold},
		{"proxy.queue", inv.Proxy.Queue, inventory.DefaultQueue},
		{"fqdn canonical", s.FQDN, "www.example.com."},
		{"mode", s.Mode, inventory.DefaultMode},
		{"failback", s.Failback, inventory.DefaultFailback},
		{"priority", s.Priority, inventory.DefaultPriority},
		{"confirm", s.Confirm, inventory.DefaultConfirm},
		{"fence", s.Fence, inventory.DefaultFence},
		{"service probe-timeout", s.ProbeTimeout, inventory.DefaultProbeTimeout},
		{"service hold", s.Hold, inventory.DefaultHold},
		{"max-on-standby", s.MaxOnStandby, time.Duration(0)},
		{"http check", *s.Check.HTTP, inventory.HTTPCheck{Path: inventory.DefaultHTTPPath, ExpectStatus: inventory.DefaultExpectStatus, Scheme: inventory.DefaultHTTPScheme}},
		{"limits.cpu", s.Container.Limits.CPU, 0},
		{"limits.memory 1G is decimal", s.Container.Limits.Memory, int64(1e9)},
		{"capacity 1Gi is binary", inv.Standby[0].Capacity.Memory, int64(1 << 30)},
		{"migration.overload", inv.Migration.Overload, inventory.Overload{Enabled: true, Trigger: inventory.DefaultOverloadTrigger,
			Steal: inventory.DefaultOverloadSteal, Load: inventory.DefaultOverloadLoad, CPU: inventory.DefaultOverloadCPU,
			Memory: inventory.DefaultOverloadMemory, Hysteresis: inventory.DefaultOverloadHysteresis,
			Window: inventory.DefaultOverloadWindow, CoolDown: inventory.DefaultOverloadCoolDown}},
		{"migration.target-max-steal", inv.Migration.TargetMaxSteal, inventory.DefaultTargetMaxSteal},
		{"migration.bandwidth: no cap", inv.Migration.Bandwidth, int64(0)},
		{"migration.max-parallel", inv.Migration.MaxParallel, inventory.DefaultMaxParallel},
		{"migration.live", inv.Migration.Live, inventory.LiveNever},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

// TestParseResolvesAgainstFileDir: relative paths are relative to the
// inventory's directory, or to the working directory for a nameless one.
func TestParseResolvesAgainstFileDir(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(minimal, "tsig-key-file: /k", "tsig-key-file: keys/k", 1)
	for filename, want := range map[string]string{
		"/etc/understudy/inv.yaml": "/etc/understudy/keys/k",
		"sub/inv.yaml":             filepath.Join(wd, "sub/keys/k"),
		"":                         filepath.Join(wd, "keys/k"),
	} {
		inv, err := inventory.Parse(filename, []byte(doc))
		if err != nil {
			t.Fatalf("Parse(%q): %v", filename, err)
		}
		if got := inv.DNS.TSIGKeyFile; got != want {
			t.Errorf("Parse(%q): tsig-key-file = %q, want %q", filename, got, want)
		}
	}
}

// TestDefaultsFollowOtherKeys: defaults derived from other keys use their values.
func TestDefaultsFollowOtherKeys(t *testing.T) {
	doc := minimal + "monitor: {listen: '0.0.0.0:9000', insecure-api: true, interval: 300ms}\nproxy: {probe-timeout: 7ms, hold: 9s}\n"
	inv, err := inventory.Parse("m.yaml", []byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := inv.Monitor.Timeout; got != 150*time.Millisecond {
		t.Errorf("monitor.timeout = %v, want half of 300ms", got)
	}
	if got := inv.Proxy.Monitors; len(got) != 1 || got[0] != "http://127.0.0.1:9000" {
		t.Errorf("proxy.monitor = %q, want the monitor's listen port on loopback", got)
	}
	if s := inv.Services[0]; s.ProbeTimeout != 7*time.Millisecond || s.Hold != 9*time.Second {
		t.Errorf("service probe-timeout, hold = %v, %v; want the proxy's 7ms, 9s", s.ProbeTimeout, s.Hold)
	}
}

func TestAliasesAreFollowed(t *testing.T) {
	doc := strings.Replace(minimal, "container: {image: i, limits: {memory: 1G}}", "container: &c {image: i, limits: {memory: 1G}}", 1) +
		"  - {name: api, fqdn: api.example.com, vm: v, port: 81, check: {tcp: {}}, standby: s, container: *c}\n"
	doc = strings.Replace(doc, "capacity: {containers: 1, memory: 1Gi}", "capacity: {containers: 2, memory: 2G}", 1)
	inv, err := inventory.Parse("a.yaml", []byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := inv.Service("api").Container.Image; got != "i" {
		t.Errorf("aliased container image = %q, want %q", got, "i")
	}
}

// TestAliasBomb: a small file whose aliases expand to a huge one is refused
// after a bounded walk.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("x: &s {container: {config: {")
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&b, "k%d: v, ", i)
	}
	b.WriteString("}}}\nservices: [")
	for i := 0; i < 1000; i++ {
		b.WriteString("*s, ")
	}
	b.WriteString("]\n")
	_, err := inventory.Parse("bomb.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "inventory too large") {
		t.Fatalf("Parse of an alias bomb = %v, want an 'inventory too large' error", err)
	}
}

func TestLookupsAndSummary(t *testing.T) {
	inv, err := inventory.Load("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s := inv.Service("api"); s == nil || s.VM != "api-vm" {
		t.Errorf("Service(api) = %+v", s)
	}
	if inv.Service("nope") != nil || inv.VM("nope") != nil || inv.Hypervisor("nope") != nil ||
		inv.StandbyVM("nope") != nil || inv.Spare("nope") != nil {
		t.Error("a lookup of an unknown name returned non-nil")
	}
	if vm := inv.VM("api-vm"); vm == nil || inv.Hypervisor(vm.Hypervisor).Zone != "az2" {
		t.Errorf("VM(api-vm) = %+v, want on host-b in az2", vm)
	}
	if sb := inv.StandbyVM("standby-1"); sb == nil || sb.Agent != "https://127.0.0.1:9443" {
		t.Errorf("StandbyVM(standby-1) = %+v", sb)
	}
	if sp := inv.Spare("spare-1"); sp == nil || sp.Zone != "az1" {
		t.Errorf("Spare(spare-1) = %+v", sp)
	}
	if got := inv.ServicesOn("web-vm"); len(got) != 1 || got[0].Name != "web" {
		t.Errorf("ServicesOn(web-vm) = %v", got)
	}
	inv.Service("web").Port = 1234 // lookups return pointers into the inventory
	if inv.Services[0].Port != 1234 {
		t.Error("Service() does not point into the inventory")
	}
	if got, want := inv.ErrorAt("services[1].playbook", "step %d: bad", 3).Error(),
		"testdata/valid.yaml:90:15: services[1].playbook: step 3: bad"; got != want {
		t.Errorf("ErrorAt = %q, want %q", got, want)
	}
	if got, want := inv.ErrorAt("services[0].hold.nothing", "x").Error(),
		"testdata/valid.yaml:72:11: services[0].hold.nothing: x"; got != want {
		t.Errorf("ErrorAt of an unwritten path = %q, want %q", got, want)
	}
	want := "2 hypervisors, 2 VMs, 2 services (1 warm, 1 cold), 1 standby VM, 1 spare"
	if got := inv.Summary(); got != want {
		t.Errorf("Summary() = %q, want %q", got, want)
	}
}

// TestProxyMonitorOneOrMany: proxy.monitor takes one URL or a list of them
// (several monitors), and names the bad entry of a list.
func TestProxyMonitorOneOrMany(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want []string
		err  string
	}{
		{yaml: "proxy: {monitor: 'http://10.0.0.1:9180'}\n", want: []string{"http://10.0.0.1:9180"}},
		{yaml: "proxy:\n  monitor: [http://10.0.0.1:9180, http://10.0.0.2:9180]\n", want: []string{"http://10.0.0.1:9180", "http://10.0.0.2:9180"}},
		{yaml: "proxy:\n  monitor: [http://10.0.0.1:9180, 'ftp://x']\n", err: "proxy.monitor[1]"},
		{yaml: "proxy:\n  monitor: []\n", err: "proxy.monitor: required: at least one monitor URL"},
	} {
		inv, err := inventory.Parse("m.yaml", []byte(minimal+tc.yaml))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err = %v, want it to name %q", tc.yaml, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.yaml, err)
			continue
		}
		if !slices.Equal(inv.Proxy.Monitors, tc.want) {
			t.Errorf("%q: proxy.monitor = %q, want %q", tc.yaml, inv.Proxy.Monitors, tc.want)
		}
	}
}
