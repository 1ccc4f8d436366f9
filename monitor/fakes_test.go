package monitor

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/lxd"
	"github.com/understudy/understudy/monitor/probe"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/executor"
	"github.com/understudy/understudy/standby"
)

var (
	_ Agent        = (*fakeAgent)(nil)
	_ Hypervisor   = (*fakeHV)(nil)
	_ executor.DNS = (*fakeDNS)(nil)
)

// fakeAgent is a standby agent in memory: prepared specs, active services,
// and a set of addresses it can reach.
type fakeAgent struct {
	mu        sync.Mutex
	prepared  map[string]standby.ServiceSpec
	active    map[string]bool
	reachable map[string]bool // address -> answers probes
	probes    []standby.ProbeRequest
	prepErr   error
	actErr    error  // returned by Activate when set
	actAddr   string // returned by Activate instead of the pool address when set
	actFall   string // the FallbackReason Activate returns
	activated int
}

func newFakeAgent() *fakeAgent {
	return &fakeAgent{prepared: map[string]standby.ServiceSpec{}, active: map[string]bool{}, reachable: map[string]bool{}}
}

func (a *fakeAgent) Prepare(_ context.Context, epoch uint64, spec standby.ServiceSpec) (standby.ServiceStatus, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.prepErr != nil {
		return standby.ServiceStatus{}, a.prepErr
	}
	if spec.Epoch != epoch {
		return standby.ServiceStatus{}, fmt.Errorf("spec epoch %d, request epoch %d", spec.Epoch, epoch)
	}
	a.prepared[spec.Name] = spec
	delete(a.active, spec.Name)
	return standby.ServiceStatus{Spec: spec, Address: a.address(spec.Name), Running: spec.Mode == standby.ModeWarm}, nil
}

func (a *fakeAgent) address(name string) string {
	names := make([]string, 0, len(a.prepared))
	for n := range a.prepared {
		names = append(names, n)
	}
	slices.Sort(names)
	return fmt.Sprintf("10.9.1.%d", 10+slices.Index(names, name))
}

func (a *fakeAgent) Activate(_ context.Context, _ uint64, name string) (standby.Activation, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.actErr != nil {
		return standby.Activation{}, a.actErr
	}
	if _, ok := a.prepared[name]; !ok {
		return standby.Activation{}, fmt.Errorf("service %q: %w", name, standby.ErrNotFound)
	}
	a.active[name] = true
	a.activated++
	addr := a.address(name)
	if a.actAddr != "" {
		addr = a.actAddr
	}
	return standby.Activation{Service: name, Address: addr, FallbackReason: a.actFall, Phases: []standby.Phase{{Name: "running", MS: 1.4}}}, nil
}

func (a *fakeAgent) Deactivate(_ context.Context, _ uint64, name string) (standby.ServiceStatus, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.active, name)
	return standby.ServiceStatus{Spec: a.prepared[name]}, nil
}

func (a *fakeAgent) Probe(_ context.Context, req standby.ProbeRequest) (standby.ProbeResult, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.probes = append(a.probes, req)
	if a.reachable[req.Address] {
		return standby.ProbeResult{OK: true, RTTMS: 0.1}, nil
	}
	return standby.ProbeResult{Error: "no answer"}, nil
}

func (a *fakeAgent) setReachable(addr string, ok bool) {
	a.mu.Lock()
	a.reachable[addr] = ok
	a.mu.Unlock()
}

func (a *fakeAgent) snapshot() (prepared map[string]standby.ServiceSpec, active map[string]bool, probes []standby.ProbeRequest) {
	a.mu.Lock()
	defer a.mu.Unlock()
	prepared = map[string]standby.ServiceSpec{}
	for k, v := range a.prepared {
		prepared[k] = v
	}
	active = map[string]bool{}
	for k, v := range a.active {
		active[k] = v
	}
	return prepared, active, slices.Clone(a.probes)
}

// fakeHV is a hypervisor whose instances run until frozen or stopped;
// freezing a stopped one fails, as Incus's does.
type fakeHV struct {
	mu      sync.Mutex
	stopped map[string]bool
	frozen  map[string]bool
}

func (h *fakeHV) Freeze(_ context.Context, name string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped[name] {
		return fmt.Errorf("freeze instance %q: the instance is not running", name)
	}
	if h.frozen == nil {
		h.frozen = map[string]bool{}
	}
	h.frozen[name] = true
	return nil
}

func (h *fakeHV) State(_ context.Context, name string) (lxd.State, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := lxd.State{Running: !h.stopped[name] && !h.frozen[name], Frozen: !h.stopped[name] && h.frozen[name], Status: "Running"}
	switch {
	case st.Frozen:
		st.Status = "Frozen"
	case h.stopped[name]:
		st.Status = "Stopped"
	}
	return st, nil
}

// Statuses lists the instances the fake has seen frozen or stopped (the
// monitor's tests replace the probes, which are what list).
func (h *fakeHV) Statuses(ctx context.Context) (map[string]lxd.State, error) {
	h.mu.Lock()
	var names []string
	for n := range h.stopped {
		names = append(names, n)
	}
	for n := range h.frozen {
		names = append(names, n)
	}
	h.mu.Unlock()
	out := map[string]lxd.State{}
	for _, n := range names {
		out[n], _ = h.State(ctx, n)
	}
	return out, nil
}

func (h *fakeHV) Stop(_ context.Context, name string, _ time.Duration) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped[name] = true
	return nil
}

func (h *fakeHV) ServerInfo(context.Context) (lxd.ServerInfo, error) {
	return lxd.ServerInfo{Name: "fake"}, nil
}

// fakeDNS is a zone in memory with compare-and-swap.
type fakeDNS struct {
	mu      sync.Mutex
	records map[string][]netip.Addr
	flips   int
}

func (d *fakeDNS) Replace(_ context.Context, name string, addrs, expect []netip.Addr) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(expect) > 0 && !slices.Equal(d.records[name], expect) {
		return fmt.Errorf("%s holds %v: %w", name, d.records[name], recover.ErrPrecondition)
	}
	d.records[name] = slices.Clone(addrs)
	d.flips++
	return nil
}

func (d *fakeDNS) Lookup(_ context.Context, name string) ([]netip.Addr, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.records[name]), nil
}

func (d *fakeDNS) flipCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.flips
}

func (d *fakeDNS) get(name string) []netip.Addr {
	a, _ := d.Lookup(context.Background(), name)
	return a
}

// fakeProbes are the monitor's probes over a set of failing target names.
type fakeProbes struct {
	mu      sync.Mutex
	failing map[string]bool // target name or address -> fails
}

func (p *fakeProbes) set(key string, fail bool) {
	p.mu.Lock()
	p.failing[key] = fail
	p.mu.Unlock()
}

func (p *fakeProbes) probe(_ context.Context, t probe.Target) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failing[t.Name] || p.failing[t.Address] {
		return fmt.Errorf("%s: fake failure", t.Name)
	}
	return nil
}

func (p *fakeProbes) probers() map[probe.Kind]probe.ProbeFunc {
	m := map[probe.Kind]probe.ProbeFunc{}
	for _, k := range []probe.Kind{probe.KindICMP, probe.KindTCP, probe.KindHTTP, probe.KindHTTPS, probe.KindInstance, probe.KindHypervisor} {
		m[k] = p.probe
	}
	return m
}

// testInventory is a small inventory: host-a, two VMs, web (warm, http) and
// api (cold, tcp) on standby sb.
const testInventory = `dns: {server: 127.0.0.1:5353, zone: lab.test., tsig-key-file: /nonexistent/tsig.key, ttl: 10s}
monitor:
  listen: 127.0.0.1:9180
  state-dir: /nonexistent/state
  interval: 20ms
  timeout: 10ms
  fails: 2
  passes: 1
  flap: {max: 100, window: 1h}
hypervisors:
  - {name: host-a, address: 10.9.0.1, zone: az1, incus: {socket: /nonexistent/unix.socket}}
vms:
  - {name: web-vm, hypervisor: host-a, address: 10.9.0.11}
  - {name: api-vm, hypervisor: host-a, address: 10.9.0.12}
standby:
  - {name: sb, agent: https://127.0.0.1:1, zone: az1, capacity: {containers: 20, memory: 4GiB}}
services:
  - name: web
    fqdn: web.lab.test.
    vm: web-vm
    port: 80
    check: {http: {path: /, expect-status: 200}}
    standby: sb
    mode: warm
    container: {image: busybox, limits: {cpu: 1, memory: 64MiB}}
  - name: api
    fqdn: api.lab.test.
    vm: api-vm
    port: 8080
    check: {tcp: {}}
    standby: sb
    mode: cold
    container: {image: busybox, limits: {cpu: 1, memory: 64MiB}}
`

func parseInventory(text string) (*inventory.Inventory, error) {
	return inventory.Parse("test.yaml", []byte(text))
}

func monitorProbe(addr string) probe.ProbeRequest {
	return probe.ProbeRequest{Address: addr, Kind: "icmp", TimeoutMS: 10}
}
