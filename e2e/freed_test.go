package e2e

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/labtest"
	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor"
	"github.com/understudy/understudy/monitor/api"
)

// The test's own addresses (HACKING.md): primaries t-e2e-m1..m3 on host-a
// from 10.200.0.132, m1's copy on spare-1 at 10.200.2.168; the standby
// containers come from the host tests' pool (hostPool).
const (
	freedBase  = 132
	freedSpare = "10.200.2.168"
)

// TestIntegrationMigrationFreesCapacity: three cold services of
// priorities 300 to 100 fail at once onto an agent with two slots; the two
// highest recover and the third is reported unprotected. Moving the first
// to spare-1 (the monitor's migrate API) frees its slot on the standby, and
// the waiting service recovers without anyone asking.
func TestIntegrationMigrationFreesCapacity(t *testing.T) {
	modes := map[string]string{"m1": "cold", "m2": "cold", "m3": "cold"}
	w := newWorldWith(t, freedBase, modes, labtest.DNSBind, hostPool, "{containers: 2, memory: 2GiB}")
	w.setPriorities(t, map[string]int{prefix + "m1": 300, prefix + "m2": 200, prefix + "m3": 100})
	w.settleWide(t)
	ctx, cancel := context.WithTimeout(context.Background(), hostBound)
	defer cancel()
	m1, m2, m3 := w.services[0], w.services[1], w.services[2]
	w.useSpare(ctx, t, m1.Name)
	addr := netip.MustParseAddr(freedSpare)
	r := w.startController(monitor.Options{
		MoveInterval: time.Second, // how often spare-1 is sampled
		StandbyIncus: map[string]inventory.Incus{"t-e2e-standby": {Socket: w.lab.Standby.Socket}},
		SparePools: map[string]monitor.SparePool{"spare-1": {First: addr, Last: addr,
			Gateway: netip.MustParseAddr(w.lab.Spare.Gateway), PrefixLen: 24}},
	})
	for _, s := range w.services {
		r.waitPrepared(ctx, t, s.Name)
		if err := r.waitMetric(ctx, "understudy_probe_target_up", "service/"+s.Name, func(v float64) bool { return v == 1 }); err != nil {
			t.Fatalf("monitor never saw %s up: %v", s.Name, err)
		}
	}
	w.stopAll(ctx, t, w.services, nil)
	for _, s := range []svc{m1, m2} {
		if _, err := r.waitService(ctx, s.Name, func(st api.ServiceStatus) bool { return st.State == "on-standby" }); err != nil {
			t.Fatalf("%s never reached on-standby: %v", s.Name, err)
		}
	}
	st, err := r.waitService(ctx, m3.Name, func(st api.ServiceStatus) bool { return st.Unprotected != "" })
	if err != nil {
		t.Fatalf("%s never reported unprotected: %v", m3.Name, err)
	}
	if !strings.Contains(st.Unprotected, "no capacity") {
		t.Errorf("%s: unprotected %q, want no capacity", m3.Name, st.Unprotected)
	}

	// m1 moves to spare-1: its standby container stops, the slot frees.
	migrateURL := r.url + "/v1/services/" + m1.Name + "/migrate"
	waitSpareMeasured(t, ctx, r.hc, migrateURL)
	if code, body := postJSON(t, ctx, r.hc, migrateURL, `{"to":"spare-1","reason":"e2e"}`); code != http.StatusAccepted {
		t.Fatalf("migrate: %d %s", code, body)
	}
	if st, err := r.waitService(ctx, m1.Name, func(st api.ServiceStatus) bool { return st.State == "on-spare" }); err != nil {
		t.Fatalf("%s never reached on-spare: %v", m1.Name, err)
	} else if st.Address != freedSpare {
		t.Errorf("%s on spare at %s, want %s", m1.Name, st.Address, freedSpare)
	}
	if state, err := w.standby.State(ctx, m1.Name); err != nil || state.Running {
		t.Errorf("%s's standby container after the move: %+v (%v), want it stopped (cold)", m1.Name, state, err)
	}
	st, err = r.waitService(ctx, m3.Name, func(st api.ServiceStatus) bool { return st.State == "on-standby" })
	if err != nil {
		t.Fatalf("%s not recovered after the migration freed a slot: %v", m3.Name, err)
	}
	if st.Unprotected != "" {
		t.Errorf("%s still reported unprotected: %q", m3.Name, st.Unprotected)
	}
	if _, err := w.answersFromStandby(ctx, m3); err != nil {
		t.Errorf("%s: %v", m3.Name, err)
	}
	if st, err := r.service(ctx, m2.Name); err != nil || st.State != "on-standby" {
		t.Errorf("%s: %+v (%v), want still on-standby", m2.Name, st, err)
	}
}
