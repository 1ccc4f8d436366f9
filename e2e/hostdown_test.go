package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/labtest"
	"github.com/understudy/understudy/monitor"
	"github.com/understudy/understudy/monitor/api"
)

// The host tests' own names and addresses (HACKING.md): primaries
// t-e2e-h* on host-a from 10.200.0.190, t-e2e-p* from 10.200.0.196,
// standby containers from their agent's pool 10.200.1.140-149.
const (
	hostBase  = 190
	fullBase  = 196
	hostPool  = "10.200.1.140-10.200.1.149"
	hostBound = 3 * time.Minute // a whole host's failover, in a test
)

// stopAll force-stops every primary of the world at once: to the monitor,
// the services of a host that died together.
func (w *world) stopAll(ctx context.Context, t *testing.T, services []svc) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(services))
	for i, s := range services {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = w.hostA.Stop(ctx, s.VM, 0) }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("force-stop primary %s: %v", services[i].VM, err)
		}
	}
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
// incident and phase times, and each name answers from standby-1.
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
	w.stopAll(ctx, t, w.services)
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
	w.stopAll(ctx, t, w.services)
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
		if want := "no capacity (needs 1 slot, 0 free)"; st.Unprotected != want || st.State != "stuck" {
			t.Errorf("%s: %s, unprotected %q, want stuck and %q", s.Name, st.State, st.Unprotected, want)
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
