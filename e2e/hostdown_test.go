package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/labtest"
	"github.com/understudy/understudy/lxd"
	"github.com/understudy/understudy/monitor"
	"github.com/understudy/understudy/monitor/api"
)

// The host tests' own names and addresses (HACKING.md): primaries
// t-e2e-h* on host-a from 10.200.0.120, t-e2e-p* from 10.200.0.126,
// t-e2e-a* from 10.200.0.130 and t-e2e-b* on host-b from 10.200.3.130,
// standby containers from their agent's pool 10.200.1.70-79.
const (
	hostBase  = 120
	fullBase  = 126
	bothBase  = 130 // host-a 10.200.0.130-131, host-b 10.200.3.130-131
	hostPool  = "10.200.1.70-10.200.1.79"
	hostBound = 3 * time.Minute // a whole host's failover, in a test
)

// stopAll force-stops every primary of the world at once (on host-a, or
// on hostB for a VM in onB): to the monitor, the services of a host, or of
// both hosts, that died together.
func (w *world) stopAll(ctx context.Context, t *testing.T, services []svc, hostB *lxd.Client, onB ...string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(services))
	took := make([]time.Duration, len(services))
	start := time.Now()
	for i, s := range services {
		hv := w.hostA
		if slices.Contains(onB, s.VM) {
			hv = hostB
		}
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = hv.Stop(ctx, s.VM, 0); took[i] = time.Since(start) }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("force-stop primary %s: %v", services[i].VM, err)
		}
	}
	t.Logf("primaries stopped %v after the first stop was sent", took)
}

// settleWide gives the world's monitor a 1 s interval and a 500 ms probe
// timeout, so that the admission gate waits 1.5 s of quiet (at most 6 s)
// for the rest of a host's failures before it refuses anyone. The tests
// of priority order need their primaries' failures to reach the monitor
// within that window, and the lab's 250 ms interval (a 350 ms window)
// leaves little room on a loaded machine: stopAll logs how far apart the
// force-stops ended, and the monitor's log when each failure was
// confirmed. What the gate does with a
// failure that comes after the window (it keeps the place it was given)
// is the admission package's tests' business.
func (w *world) settleWide(t *testing.T) {
	t.Helper()
	w.editInventory(func(text string) string {
		const timing = "  interval: 250ms\n  timeout: 100ms\n"
		if !strings.Contains(text, timing) {
			t.Fatalf("inventory has no %q", timing)
		}
		return strings.Replace(text, timing, "  interval: 1s\n  timeout: 500ms\n", 1)
	})
}

// setPriorities writes priorities (service name → priority) into the
// world's inventory.
func (w *world) setPriorities(t *testing.T, prio map[string]int) {
	t.Helper()
	b, err := os.ReadFile(w.invPath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for name, p := range prio {
		line := "  - name: " + name + "\n"
		if !strings.Contains(text, line) {
			t.Fatalf("inventory has no service %s", name)
		}
		text = strings.Replace(text, line, fmt.Sprintf("%s    priority: %d\n", line, p), 1)
	}
	if err := os.WriteFile(w.invPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestIntegrationHostDown: six services (three warm, three cold) whose
// primaries on host-a all stop at once recover, each with its own
// incident and phase times, and each name answers from standby-1; the
// monitor confirms the host's failure with the agent once and reports it
// as one event.
func TestIntegrationHostDown(t *testing.T) {
	modes := map[string]string{"h1": "warm", "h2": "warm", "h3": "warm", "h4": "cold", "h5": "cold", "h6": "cold"}
	w := newWorldWith(t, hostBase, modes, labtest.DNSBind, hostPool, "{containers: 10, memory: 2GiB}")
	r := w.startController(monitor.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), hostBound)
	defer cancel()
	for _, s := range w.services {
		r.waitPrepared(ctx, t, s.Name)
		if err := r.waitMetric(ctx, "understudy_probe_target_up", "service/"+s.Name, func(v float64) bool { return v == 1 }); err != nil {
			t.Fatalf("monitor never saw %s up: %v", s.Name, err)
		}
	}
	start := time.Now()
	w.stopAll(ctx, t, w.services, nil)
	for _, s := range w.services {
		st, err := r.waitService(ctx, s.Name, func(st api.ServiceStatus) bool { return st.State == "on-standby" })
		if err != nil {
			t.Fatalf("%s never reached on-standby: %v", s.Name, err)
		}
		addr, err := w.answersFromStandby(ctx, s)
		if err != nil {
			t.Errorf("%s: %v", s.Name, err)
			continue
		}
		inc := st.LastIncident
		if inc == nil || inc.Result != "recovered" || inc.Phase("dns-flipped").IsZero() || inc.Phase("activated").IsZero() {
			t.Errorf("%s: incident %+v, want recovered with its own phases", s.Name, inc)
			continue
		}
		t.Logf("%s (%s) at %s: total %.1f ms, served again %.0f ms after the stop", s.Name, s.Mode, addr, inc.TotalMS,
			float64(inc.Phase("on-standby").Sub(start))/float64(time.Millisecond))
	}
	// The settle window merged the host's findings: one agent round, one
	// host event, six incidents.
	if n := r.metric("understudy_probe_confirmations_total", "host-a"); n != 1 {
		t.Errorf("agent confirmation rounds for host-a = %v, want 1", n)
	}
	if n := r.metric("understudy_probe_events_total", "vm-down"); n != 1 {
		t.Errorf("vm-down events = %v, want 1 (the host's)", n)
	}
	if n := r.metric("understudy_probe_events_total", "service-down"); n > 0 {
		t.Errorf("service-down events = %v, want none", n)
	}
}

// TestIntegrationHostDownFullStandby: four cold services of priorities 400
// to 100 fail at once onto an agent with two slots: the two of highest
// priority recover; the other two are reported unprotected, their standby
// containers never started and their names untouched; when the first fails
// back, the next in priority recovers without anyone asking.
func TestIntegrationHostDownFullStandby(t *testing.T) {
	modes := map[string]string{"p1": "cold", "p2": "cold", "p3": "cold", "p4": "cold"}
	w := newWorldWith(t, fullBase, modes, labtest.DNSBind, hostPool, "{containers: 2, memory: 2GiB}")
	w.setPriorities(t, map[string]int{prefix + "p1": 400, prefix + "p2": 300, prefix + "p3": 200, prefix + "p4": 100})
	w.settleWide(t)
	r := w.startController(monitor.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), hostBound)
	defer cancel()
	for _, s := range w.services {
		r.waitPrepared(ctx, t, s.Name)
		if err := r.waitMetric(ctx, "understudy_probe_target_up", "service/"+s.Name, func(v float64) bool { return v == 1 }); err != nil {
			st, _ := r.service(ctx, s.Name)
			t.Fatalf("monitor never saw %s up: %v; status %+v, incident %+v", s.Name, err, st, st.LastIncident)
		}
	}
	w.stopAll(ctx, t, w.services, nil)
	p1, p2, p3, p4 := w.services[0], w.services[1], w.services[2], w.services[3]
	for _, s := range []svc{p1, p2} {
		if _, err := r.waitService(ctx, s.Name, func(st api.ServiceStatus) bool { return st.State == "on-standby" }); err != nil {
			t.Fatalf("%s never reached on-standby: %v", s.Name, err)
		}
		if _, err := w.answersFromStandby(ctx, s); err != nil {
			t.Errorf("%s: %v", s.Name, err)
		}
	}
	for _, s := range []svc{p3, p4} {
		st, err := r.waitService(ctx, s.Name, func(st api.ServiceStatus) bool { return st.Unprotected != "" })
		if err != nil {
			t.Fatalf("%s never reported unprotected: %v", s.Name, err)
		}
		// The gate refuses it ("no capacity (needs 1 slot, 0 free)"), or, when
		// its capacity sample lagged behind the activations of a loaded
		// machine, the agent does ("no capacity: 2 of 2 container slots in
		// use"): either way nothing starts and nothing flips (below).
		if !strings.Contains(st.Unprotected, "no capacity") || st.State != "stuck" {
			t.Errorf("%s: %s, unprotected %q, want stuck and no capacity", s.Name, st.State, st.Unprotected)
		}
		if state, err := w.standby.State(ctx, s.Name); err != nil || state.Running {
			t.Errorf("%s: standby container %+v (%v), want it not started", s.Name, state, err)
		}
		if addrs, err := lookupA(ctx, w.dnsSrv.Addr, s.FQDN); err != nil || len(addrs) != 1 || addrs[0] != s.Address {
			t.Errorf("%s: DNS %v (%v), want still %s: nothing flipped", s.Name, addrs, err, s.Address)
		}
		if v := r.metric("understudy_monitor_service_unprotected_no_capacity", s.Name); v != 1 {
			t.Errorf("%s: understudy_monitor_service_unprotected_no_capacity = %v, want 1", s.Name, v)
		}
	}

	// p1's primary comes back and it fails back: its slot frees and p3,
	// the higher of the two waiting, recovers by itself.
	if err := w.hostA.Start(ctx, p1.VM); err != nil {
		t.Fatalf("restart %s: %v", p1.VM, err)
	}
	if err := waitHTTP(ctx, p1.Address, p1.VM); err != nil {
		t.Fatalf("restarted primary: %v", err)
	}
	if code, body := postJSON(t, ctx, r.hc, r.url+"/v1/services/"+p1.Name+"/failback", `{"reason":"e2e"}`); code != http.StatusAccepted {
		t.Fatalf("failback: %d %s", code, body)
	}
	if _, err := r.waitService(ctx, p1.Name, func(st api.ServiceStatus) bool { return st.State == "primary" }); err != nil {
		t.Fatalf("%s never failed back: %v", p1.Name, err)
	}
	st, err := r.waitService(ctx, p3.Name, func(st api.ServiceStatus) bool { return st.State == "on-standby" })
	if err != nil {
		t.Fatalf("%s not recovered after the failback freed a slot: %v", p3.Name, err)
	}
	if _, err := w.answersFromStandby(ctx, p3); err != nil {
		t.Errorf("%s: %v", p3.Name, err)
	}
	if st.Unprotected != "" {
		t.Errorf("%s still reported unprotected: %q", p3.Name, st.Unprotected)
	}
	if st, err := r.service(ctx, p4.Name); err != nil || st.State != "stuck" || st.Unprotected == "" {
		t.Errorf("%s: %+v (%v), want still waiting", p4.Name, st, err)
	}
	if state, err := w.standby.State(ctx, p4.Name); err != nil || state.Running {
		t.Errorf("%s: standby container %+v (%v), want it not started", p4.Name, state, err)
	}
}

// TestIntegrationBothHostsDown: a zone event, host-a and host-b at once,
// two cold services on each, onto an agent with two slots: the two of
// highest priority recover whatever host they were on (a2 400 on host-a,
// b1 300 on host-b); a1 (100) and b2 (200) are reported unprotected, their
// standby containers never started and their names untouched. The monitor
// asks the agent once per host.
func TestIntegrationBothHostsDown(t *testing.T) {
	lab := labtest.Require(t)
	lab.NeedHostB(t)
	w := newWorldWith(t, bothBase, map[string]string{"a1": "cold", "a2": "cold"}, labtest.DNSBind, hostPool, "{containers: 2, memory: 2GiB}")
	ctx, cancel := context.WithTimeout(context.Background(), hostBound)
	defer cancel()
	hostB, err := lxd.Connect(ctx, lxd.Conn{Name: "host-b", Socket: lab.HostB.Socket})
	if err != nil {
		t.Fatalf("connect host-b: %v", err)
	}
	for i, suffix := range []string{"b1", "b2"} {
		name := prefix + suffix
		s := svc{Name: name, Mode: "cold", VM: name + "-vm", Address: fmt.Sprintf("10.200.3.%d", bothBase+i), FQDN: name + "." + lab.Zone}
		w.services = append(w.services, s)
		w.startPrimaryOn(ctx, hostB, lab.HostB.Gateway, s)
		w.pointDNS(ctx, s)
		t.Cleanup(func() { w.removeStandbyContainer(s.Name) })
	}
	w.writeInventory()
	b, err := os.ReadFile(w.invPath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	hvA := "  - {name: host-a, address: " + lab.HostA.Gateway + ", zone: az1, incus: {socket: " + lab.HostA.Socket + "}}\n"
	if !strings.Contains(text, hvA) {
		t.Fatalf("inventory has no line %q", hvA)
	}
	text = strings.Replace(text, hvA, hvA+"  - {name: host-b, address: "+lab.HostB.Gateway+", zone: az2, incus: {socket: "+lab.HostB.Socket+"}}\n", 1)
	var onB []string
	for _, s := range w.services[2:] {
		onB = append(onB, s.VM)
		text = strings.Replace(text, "  - {name: "+s.VM+", hypervisor: host-a,", "  - {name: "+s.VM+", hypervisor: host-b,", 1)
	}
	if err := os.WriteFile(w.invPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	w.setPriorities(t, map[string]int{prefix + "a1": 100, prefix + "a2": 400, prefix + "b1": 300, prefix + "b2": 200})
	w.settleWide(t)
	r := w.startController(monitor.Options{})
	for _, s := range w.services {
		r.waitPrepared(ctx, t, s.Name)
	}
	w.stopAll(ctx, t, w.services, hostB, onB...)
	a1, a2, b1, b2 := w.services[0], w.services[1], w.services[2], w.services[3]
	for _, s := range []svc{a2, b1} {
		if _, err := r.waitService(ctx, s.Name, func(st api.ServiceStatus) bool { return st.State == "on-standby" }); err != nil {
			t.Fatalf("%s never reached on-standby: %v", s.Name, err)
		}
		if _, err := w.answersFromStandby(ctx, s); err != nil {
			t.Errorf("%s: %v", s.Name, err)
		}
	}
	for _, s := range []svc{a1, b2} {
		st, err := r.waitService(ctx, s.Name, func(st api.ServiceStatus) bool { return st.Unprotected != "" })
		if err != nil {
			t.Fatalf("%s never reported unprotected: %v", s.Name, err)
		}
		// The gate refuses it ("no capacity (needs 1 slot, 0 free)"), or, when
		// its capacity sample lagged behind the activations of a loaded
		// machine, the agent does ("no capacity: 2 of 2 container slots in
		// use"): either way nothing starts and nothing flips (below).
		if !strings.Contains(st.Unprotected, "no capacity") || st.State != "stuck" {
			t.Errorf("%s: %s, unprotected %q, want stuck and no capacity", s.Name, st.State, st.Unprotected)
		}
		if state, err := w.standby.State(ctx, s.Name); err != nil || state.Running {
			t.Errorf("%s: standby container %+v (%v), want it not started", s.Name, state, err)
		}
		if addrs, err := lookupA(ctx, w.dnsSrv.Addr, s.FQDN); err != nil || len(addrs) != 1 || addrs[0] != s.Address {
			t.Errorf("%s: DNS %v (%v), want still %s: nothing flipped", s.Name, addrs, err, s.Address)
		}
	}
	for _, hv := range []string{"host-a", "host-b"} { // one agent round per host
		if n := r.metric("understudy_probe_confirmations_total", hv); n != 1 {
			t.Errorf("agent confirmation rounds for %s = %v, want 1", hv, n)
		}
	}
}
