package probe

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// hostPlan: host-a runs a1..a4 (services sa1..sa4), host-b runs b1, b2
// (sb1, sb2); every service is a tcp check confirmed by the agent.
func hostPlan() Plan {
	p := Plan{
		Timing:      Timing{Interval: time.Second, Timeout: 500 * time.Millisecond, Fails: 3, Passes: 1},
		Hypervisors: []HypervisorSpec{{Name: "host-a", Address: "10.0.0.1"}, {Name: "host-b", Address: "10.0.0.2"}},
	}
	add := func(hyp, vm, addr string) {
		p.VMs = append(p.VMs, VMSpec{Name: vm, Hypervisor: hyp, Instance: vm, Address: addr})
		p.Services = append(p.Services, ServiceSpec{Name: "s" + vm, VM: vm, Port: 80, Check: KindTCP, Confirm: ConfirmAgent})
	}
	for i := 1; i <= 4; i++ {
		add("host-a", fmt.Sprintf("a%d", i), fmt.Sprintf("10.0.1.%d", i))
	}
	add("host-b", "b1", "10.0.2.1")
	add("host-b", "b2", "10.0.2.2")
	return p
}

// vmDown marks a VM and its service down, the service first (as a host's
// death often shows: a ServiceDown that becomes a VMDown).
func (h *harness) vmDown(vms ...string) {
	for _, vm := range vms {
		h.down(nil, "service/s"+vm, "vm/"+vm+"/icmp")
	}
}

// dying marks the targets of vms failing while still up: what the engine
// has seen of a host's VMs when the first of them crosses its threshold
// (they died together and are probed on the same interval).
func (h *harness) dying(vms ...string) {
	for _, vm := range vms {
		for _, name := range []string{"service/s" + vm, "vm/" + vm + "/icmp"} {
			h.run(h.m.ev.observe(context.Background(), change{target: name, up: true, soft: true, failing: true}))
		}
	}
}

func (h *harness) confirmations(hyp string) float64 {
	return testutil.ToFloat64(h.m.ev.metrics.confirmations.WithLabelValues(hyp))
}

func TestHostVMsWithinTheWindowAreConfirmedOnce(t *testing.T) {
	h := newHarnessFor(t, hostPlan(), &fakeAgent{})
	h.dying("a1", "a2", "a3", "a4")
	h.vmDown("a1", "a2", "a3")
	h.expect() // waiting: host-a's fourth VM may follow
	if n := len(h.agent.requests()); n != 0 {
		t.Fatalf("agent asked %d times inside the settle window, want 0", n)
	}
	h.clock.Advance(h.m.ev.window / 2)
	h.vmDown("a4")
	h.expect() // the whole host is in, but its hypervisor's target may still follow
	h.closeWindow()
	evs := h.expect("vm-down [sa1 sa2 sa3 sa4] [a1 a2 a3 a4]")
	if evs[0].Hypervisor != "host-a" {
		t.Errorf("host event names hypervisor %q, want host-a", evs[0].Hypervisor)
	}
	if !strings.Contains(evs[0].Reason, "4 findings on hypervisor host-a") || !strings.Contains(evs[0].Reason, "confirmed: standby agent") {
		t.Errorf("reason %q does not say what merged and that the agent confirmed", evs[0].Reason)
	}
	if got := h.confirmations("host-a"); got != 1 {
		t.Errorf("confirmations of host-a = %v, want 1", got)
	}
	if n := len(h.agent.requests()); n != 4 { // one round: each service's own check
		t.Errorf("agent probes = %d, want 4 (one per service, in one round)", n)
	}
	h.up("service/sa2", "vm/a2/icmp")
	h.expect("recovered(vm-down) [sa2] [a2]") // each VM still recovers on its own
}

func TestTwoHostsGetOneConfirmationEach(t *testing.T) {
	h := newHarnessFor(t, hostPlan(), &fakeAgent{})
	h.dying("a1", "a2", "a3", "b1", "b2")
	h.vmDown("a1", "b1", "a2", "a3", "b2")
	h.closeWindow()
	evs := h.expect("vm-down [sa1 sa2 sa3] [a1 a2 a3]", "vm-down [sb1 sb2] [b1 b2]")
	if evs[0].Hypervisor != "host-a" || evs[1].Hypervisor != "host-b" {
		t.Errorf("hypervisors %q, %q, want host-a, host-b", evs[0].Hypervisor, evs[1].Hypervisor)
	}
	for _, hyp := range []string{"host-a", "host-b"} {
		if got := h.confirmations(hyp); got != 1 {
			t.Errorf("confirmations of %s = %v, want 1", hyp, got)
		}
	}
}

func TestVMOutsideTheWindowGetsItsOwn(t *testing.T) {
	h := newHarnessFor(t, hostPlan(), &fakeAgent{})
	h.dying("a1", "a2")
	h.vmDown("a1")
	if d, ok := h.m.ev.deadline(); !ok || !d.Equal(h.clock.Now().Add(1500*time.Millisecond)) {
		t.Fatalf("deadline %v %v, want now + interval + timeout", d, ok)
	}
	h.clock.Advance(time.Second)
	h.run(h.m.ev.wake())
	h.expect()     // not yet: a lone VM waits the whole window
	h.vmDown("a2") // joins: the window is a1's plus what a2 adds
	h.clock.Advance(time.Second)
	h.run(h.m.ev.wake())
	h.expect() // still inside a2's window
	h.clock.Advance(500 * time.Millisecond)
	h.run(h.m.ev.wake())
	h.expect("vm-down [sa1 sa2] [a1 a2]")
	h.clock.Advance(10 * time.Second)
	h.dying("a3", "a4")
	h.vmDown("a3")
	h.closeWindow()
	h.expect("vm-down [sa3] [a3]")
	if got := h.confirmations("host-a"); got != 2 {
		t.Errorf("confirmations of host-a = %v, want 2 (a3 came long after)", got)
	}
}

func TestWindowNeverHoldsTheFirstForMoreThanTwoWindows(t *testing.T) {
	h := newHarnessFor(t, hostPlan(), &fakeAgent{})
	start := h.clock.Now()
	h.dying("a1", "a2", "a3")
	h.vmDown("a1")
	h.clock.Advance(time.Second)
	h.vmDown("a2")
	h.clock.Advance(time.Second)
	h.vmDown("a3")
	if d, _ := h.m.ev.deadline(); !d.Equal(start.Add(3 * time.Second)) {
		t.Errorf("deadline %v after the start, want 2 × 1.5s", d.Sub(start))
	}
}

func TestHostRoundFailsOverWhatTheAgentAgreesOn(t *testing.T) {
	agent := &fakeAgent{}
	agent.set("tcp 10.0.1.3:80", true) // the agent still reaches a3's service
	h := newHarnessFor(t, hostPlan(), agent)
	h.dying("a1", "a2", "a3", "a4")
	h.vmDown("a1", "a2", "a3", "a4")
	h.closeWindow()
	h.expect("vm-down [sa1 sa2 sa4] [a1 a2 a4]", "disagreement(vm-down) [sa3] [a3]")
	agent.set("tcp 10.0.1.3:80", false)
	h.clock.Advance(3 * time.Second)
	h.run(h.m.ev.tick(context.Background()))
	h.expect("vm-down [sa3] [a3]")
	if got := h.confirmations("host-a"); got != 2 {
		t.Errorf("confirmations of host-a = %v, want 2 (the round and the retry)", got)
	}
}

func TestHostDownAbsorbsTheWaitingVMs(t *testing.T) {
	h := newHarnessFor(t, hostPlan(), &fakeAgent{})
	h.dying("a1", "a2", "a3", "a4")
	h.vmDown("a1", "a2", "a3", "a4") // all of host-a's VMs, and then its hypervisor's target
	h.down(nil, "hypervisor/host-a")
	h.expect("host-down [sa1 sa2 sa3 sa4] [a1 a2 a3 a4]")
	h.closeWindow()
	h.expect() // the batch's findings became part of the host's
	if got := h.confirmations("host-a"); got != 1 {
		t.Errorf("confirmations of host-a = %v, want 1", got)
	}
}

// Without the window (Settle < 0) every finding is confirmed as it comes:
// a service that crosses its threshold before its VM is reported twice.
func TestWindowOffConfirmsEachAtOnce(t *testing.T) {
	h := newHarnessFor(t, hostPlan(), &fakeAgent{})
	h.m.ev.window = 0
	h.vmDown("a1", "a2")
	h.expect("service-down [sa1] [a1]", "vm-down [sa1] [a1]", "service-down [sa2] [a2]", "vm-down [sa2] [a2]")
	if got := h.confirmations("host-a"); got != 4 {
		t.Errorf("confirmations of host-a = %v, want 4", got)
	}
}

// TestEngineConfirmsAHostOnce runs the engine (synctest's clock): the
// three VMs of host-a stop answering at once, their probes spread over an
// interval by the jitter; the settle timer closes the window and one
// round confirms them.
func TestEngineConfirmsAHostOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		plan := Plan{
			Timing:      Timing{Interval: time.Second, Timeout: 200 * time.Millisecond, Fails: 2, Passes: 1},
			Hypervisors: []HypervisorSpec{{Name: "host-a"}, {Name: "host-b"}},
		}
		pinger := &fakePinger{up: map[netip.Addr]bool{}}
		running := map[string]bool{}
		for i, hyp := range []string{"host-a", "host-a", "host-a", "host-b"} {
			vm, addr := fmt.Sprintf("vm%d", i+1), fmt.Sprintf("10.0.0.%d", 11+i)
			plan.VMs = append(plan.VMs, VMSpec{Name: vm, Hypervisor: hyp, Instance: vm, Address: addr})
			pinger.up[netip.MustParseAddr(addr)] = true
			running[vm] = true
		}
		hyp := &fakeHypervisor{running: running}
		agent := &fakeAgent{}
		sink := &sliceSink{}
		m, err := New(plan, Options{
			Probers: Probers(Deps{Pinger: pinger, Hypervisors: map[string]Hypervisor{"host-a": hyp, "host-b": hyp}}),
			Sink:    sink, Confirmer: agent, Logger: quietLogger(),
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { _ = m.Run(ctx) })
		time.Sleep(5 * time.Second)
		pinger.mu.Lock()
		for i := 11; i <= 13; i++ {
			pinger.up[netip.MustParseAddr(fmt.Sprintf("10.0.0.%d", i))] = false
		}
		pinger.mu.Unlock()
		time.Sleep(10 * time.Second)
		cancel()
		wg.Wait()
		evs := sink.take()
		if got := kinds(evs); len(got) != 1 || got[0] != "vm-down [] [vm1 vm2 vm3]" {
			t.Fatalf("events %q, want one vm-down of host-a's three VMs", got)
		}
		if got := testutil.ToFloat64(m.ev.metrics.confirmations.WithLabelValues("host-a")); got != 1 {
			t.Errorf("confirmations of host-a = %v, want 1", got)
		}
		if n := len(agent.requests()); n != 3 {
			t.Errorf("agent probes = %d, want 3 (an icmp per VM without services)", n)
		}
	})
}

// TestLoneVMIsConfirmedAtOnce measures, on synctest's clock, what the
// window costs a lone VM whose hypervisor is otherwise quiet: nothing. The
// time from its death to its VMDown event is the same with the window on
// and off, side by side, with the fast re-probe off and on.
func TestLoneVMIsConfirmedAtOnce(t *testing.T) {
	for _, fast := range []time.Duration{0, 250 * time.Millisecond} {
		loneVM(t, Timing{Interval: time.Second, Timeout: 200 * time.Millisecond, Fails: 3, Passes: 1, FastInterval: fast})
	}
}

func loneVM(t *testing.T, timing Timing) {
	detect := func(settle time.Duration) (d time.Duration) {
		synctest.Test(t, func(t *testing.T) {
			addr := netip.MustParseAddr("10.0.0.11")
			pinger := &fakePinger{up: map[netip.Addr]bool{addr: true}}
			hyp := &fakeHypervisor{running: map[string]bool{"vm1": true}}
			sink := &sliceSink{}
			plan := onePlan(timing)
			plan.VMs = append(plan.VMs, VMSpec{Name: "vm2", Hypervisor: "host-a", Instance: "vm2", Address: "10.0.0.12"})
			pinger.up[netip.MustParseAddr("10.0.0.12")] = true
			hyp.running["vm2"] = true
			m, err := New(plan, Options{
				Probers: Probers(Deps{Pinger: pinger, Hypervisors: map[string]Hypervisor{"host-a": hyp}}),
				Sink:    sink, Confirmer: &fakeAgent{}, Logger: quietLogger(), Jitter: noJitter, Settle: settle,
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() { _ = m.Run(ctx) })
			time.Sleep(5500 * time.Millisecond)
			died := time.Now()
			pinger.mu.Lock()
			pinger.up[addr] = false // vm1 dies; vm2 on the same hypervisor lives
			pinger.mu.Unlock()
			time.Sleep(10 * time.Second)
			cancel()
			wg.Wait()
			evs := sink.take()
			if len(evs) != 1 || evs[0].Kind != VMDown {
				t.Fatalf("events %q, want one vm-down", kinds(evs))
			}
			d = evs[0].At.Sub(died)
		})
		return d
	}
	without, with := detect(-1), detect(0)
	t.Logf("fast-interval %v: death to VMDown %v without the window, %v with it", timing.FastInterval, without, with)
	if with != without {
		t.Errorf("the window cost a lone VM on a quiet hypervisor %v, want nothing", with-without)
	}
}

// TestLoneVMOnAQuietHostSkipsTheWindow: a VM whose hypervisor's other
// targets all pass is asked about at once; one whose neighbour's latest
// probe failed waits in the host's batch.
func TestLoneVMOnAQuietHostSkipsTheWindow(t *testing.T) {
	h := newHarnessFor(t, hostPlan(), &fakeAgent{})
	h.vmDown("a1") // its service crosses first, then the VM: each asked at once
	h.expect("service-down [sa1] [a1]", "vm-down [sa1] [a1]")
	if _, ok := h.m.ev.deadline(); ok {
		t.Error("a batch opened for a lone VM on a quiet hypervisor")
	}
	h.dying("a3")
	h.vmDown("a2")
	h.expect() // a3 is failing too: a2 waits for it
	h.vmDown("a3")
	h.closeWindow()
	h.expect("vm-down [sa2 sa3] [a2 a3]")
}
