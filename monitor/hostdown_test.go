package monitor

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/standby"
)

// hostInventory is host-a with four VMs, one cold service each, priorities
// 400 down to 100, on a standby of two slots, and one warm service on a VM
// of host-b. The agent (slotAgent) holds two slots besides the warm one.
// The interval leaves the admission gate's wait (interval + timeout, up to
// 4 times) room for a loaded machine, where the probe engine's findings of
// one host arrive further apart than one interval.
var hostInventory = `dns: {server: 127.0.0.1:5353, zone: lab.test., tsig-key-file: /nonexistent/tsig.key, ttl: 10s}
monitor:
  listen: 127.0.0.1:9180
  state-dir: /nonexistent/state
  interval: 100ms
  timeout: 50ms
  fails: 2
  passes: 1
  max-parallel-activations: 2
  flap: {max: 100, window: 1h}
hypervisors:
  - {name: host-a, address: 10.9.0.1, zone: az1, incus: {socket: /nonexistent/unix.socket}}
  - {name: host-b, address: 10.9.3.1, zone: az1, incus: {socket: /nonexistent/unix-b.socket}}
vms:
  - {name: vm1, hypervisor: host-a, address: 10.9.0.21}
  - {name: vm2, hypervisor: host-a, address: 10.9.0.22}
  - {name: vm3, hypervisor: host-a, address: 10.9.0.23}
  - {name: vm4, hypervisor: host-a, address: 10.9.0.24}
  - {name: vmw, hypervisor: host-b, address: 10.9.3.21}
standby:
  - {name: sb, agent: https://127.0.0.1:1, zone: az1, capacity: {containers: 3, memory: 4GiB}}
services:
` + hostServices

var hostServices = func() string {
	var b strings.Builder
	for i, prio := range []int{400, 300, 200, 100} {
		fmt.Fprintf(&b, `  - {name: s%d, fqdn: s%d.lab.test., vm: vm%d, port: 8080, check: {tcp: {}}, standby: sb, mode: cold, priority: %d, container: {image: busybox, limits: {memory: 64MiB}}}
`, i+1, i+1, i+1, prio)
	}
	b.WriteString("  - {name: w, fqdn: w.lab.test., vm: vmw, port: 8080, check: {tcp: {}}, standby: sb, mode: warm, container: {image: busybox, limits: {memory: 64MiB}}}\n")
	return b.String()
}()

// slotAgent is fakeAgent with the capacity of an agent: slots containers
// run at most (warm ones always), and it reports them (GET /v1/capacity,
// GET /v1/services).
type slotAgent struct {
	*fakeAgent
	slots int
	mu    sync.Mutex
	// refused counts activations the agent itself refused for capacity:
	// the gate should refuse them first.
	refused int
}

func (a *slotAgent) running() map[string]int64 {
	prepared, active, _ := a.snapshot()
	out := map[string]int64{}
	for n, s := range prepared {
		if s.Mode == standby.ModeWarm || active[n] {
			out[n] = s.Memory
		}
	}
	return out
}

func (a *slotAgent) Activate(ctx context.Context, epoch uint64, name string) (standby.Activation, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	run := a.running()
	if _, ok := run[name]; !ok && len(run) >= a.slots {
		a.refused++
		return standby.Activation{}, fmt.Errorf("%w: %d of %d container slots in use", standby.ErrNoCapacity, len(run), a.slots)
	}
	return a.fakeAgent.Activate(ctx, epoch, name)
}

func (a *slotAgent) Capacity(context.Context) (standby.Capacity, error) {
	run := a.running()
	return standby.Capacity{SlotsTotal: a.slots, ContainersRunning: len(run), SlotsFree: max(a.slots-len(run), 0)}, nil
}

func (a *slotAgent) Services(context.Context) ([]standby.ServiceStatus, error) {
	prepared, _, _ := a.snapshot()
	run := a.running()
	var out []standby.ServiceStatus
	for n, s := range prepared {
		_, ok := run[n]
		out = append(out, standby.ServiceStatus{Spec: s, Running: ok})
	}
	return out, nil
}

// A whole host fails with four cold services onto a standby with room for
// two of them (the warm one of host-b keeps its place): the two of highest priority recover, the others are refused before
// anything starts and shown unprotected (the probe engine reports the
// host's services over one interval: the places still go by priority); when a failback frees a slot, the
// next in priority is recovered without anyone asking.
func TestHostDownFillsTheStandbyByPriority(t *testing.T) {
	var agent *slotAgent
	h := start(t, hostInventory, func(h *harness) {
		agent = &slotAgent{fakeAgent: h.agent, slots: 3}
		h.tune = func(o *Options) {
			o.Agents = func(inventory.Standby, TLSFiles) (Agent, error) { return agent, nil }
		}
	})
	for _, s := range []string{"s1", "s2", "s3", "s4", "w"} {
		h.eventually(s+" prepared", func() bool { return h.service(s).Standby.Prepared })
	}
	// host-a dies: its API, its VMs and their services go silent.
	h.probes.set("hypervisor/host-a", true)
	for i := 1; i <= 4; i++ {
		addr := fmt.Sprintf("10.9.0.2%d", i)
		h.agent.setReachable(addr, false)
		h.probes.set(addr, true)
		h.probes.set(fmt.Sprintf("vm/vm%d/instance", i), true)
	}
	defer func() {
		if t.Failed() {
			h.dump()
		}
	}()
	h.eventually("s1 and s2 on-standby", func() bool {
		return h.service("s1").State == "on-standby" && h.service("s2").State == "on-standby"
	})
	h.eventually("s3 and s4 unprotected", func() bool {
		return h.service("s3").Unprotected != "" && h.service("s4").Unprotected != ""
	})
	for _, s := range []string{"s3", "s4"} {
		st := h.service(s)
		if want := "no capacity (needs 1 slot, 0 free)"; st.Unprotected != want || st.State != "stuck" {
			t.Errorf("%s: state %s, unprotected %q, want stuck and %q", s, st.State, st.Unprotected, want)
		}
		if got := h.dns.get(s + ".lab.test."); len(got) != 1 || got[0].String() != fmt.Sprintf("10.9.0.2%s", s[1:]) {
			t.Errorf("%s: DNS = %v, want its primary (nothing flipped)", s, got)
		}
		if !h.metricLine(fmt.Sprintf(`understudy_monitor_service_unprotected_no_capacity{service=%q,standby="sb"} 1`, s)) {
			t.Errorf("%s: no_capacity metric not 1", s)
		}
	}
	if _, active, _ := h.agent.snapshot(); active["s3"] || active["s4"] {
		t.Errorf("a refused service's container was started: %v", active)
	}
	if agent.refused != 0 {
		t.Errorf("the agent refused %d activations itself; the gate should have", agent.refused)
	}
	// The incidents do not ask the agent again: their confirm steps use
	// the probe engine's confirmation of the finding.
	for _, s := range []string{"s1", "s2"} {
		inc := h.service(s).LastIncident
		if inc == nil || len(inc.Steps) == 0 || !strings.Contains(inc.Steps[0].Note, "monitor's agent confirmation") {
			t.Errorf("%s: confirm step %+v, want the monitor's confirmation", s, inc)
		}
	}

	// s1's primary returns and it fails back: a slot frees, and s3 (the
	// higher of the two waiting) is recovered by itself.
	h.agent.setReachable("10.9.0.21", true)
	h.probes.set("10.9.0.21", false)
	h.probes.set("vm/vm1/instance", false)
	h.probes.set("hypervisor/host-a", false)
	if code, e := h.post("/v1/services/s1/failback", `{"reason":"home"}`); code != http.StatusAccepted {
		t.Fatalf("failback: %d %+v", code, e)
	}
	h.eventually("s3 on-standby after the failback", func() bool { return h.service("s3").State == "on-standby" })
	// The hypervisor's recovery is a new finding for s4's primary, which
	// re-arms s4 for a moment (failing over) until the gate refuses it
	// again: it ends waiting, unprotected.
	h.eventually("s4 waiting again", func() bool {
		st := h.service("s4")
		return st.State == "stuck" && st.Unprotected != ""
	})
	if st := h.service("s3"); st.Unprotected != "" {
		t.Errorf("s3 still reported unprotected: %q", st.Unprotected)
	}
}

func (h *harness) dump() {
	for _, s := range h.status().Services {
		h.t.Logf("%s %s unprot=%q inc=%+v", s.Service, s.State, s.Unprotected, s.LastIncident)
	}
}
