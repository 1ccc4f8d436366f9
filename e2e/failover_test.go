package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/understudy/understudy/monitor"
)

// failoverBound is how long a whole failover may take in a test; the
// benchmarks measure how long it does take.
const failoverBound = 60 * time.Second

func TestIntegrationFailoverWarm(t *testing.T) { testFailover(t, "warm", 160) }

func TestIntegrationFailoverCold(t *testing.T) { testFailover(t, "cold", 161) }

// testFailover force-stops a service's primary and checks that the name
// answers from the standby container and that the status tells the story.
func testFailover(t *testing.T, mode string, base int) {
	w := newWorld(t, base, map[string]string{mode: mode})
	s := w.services[0]
	r := w.startController(monitor.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), failoverBound)
	defer cancel()
	r.waitPrepared(ctx, t, s.Name)
	if err := r.waitMetric(ctx, "understudy_probe_target_up", "service/"+s.Name, func(v float64) bool { return v == 1 }); err != nil {
		t.Fatalf("monitor never saw the service up: %v", err)
	}

	if err := w.hostA.Stop(ctx, s.VM, 0); err != nil {
		t.Fatalf("force-stop primary: %v", err)
	}
	st, err := r.waitService(ctx, s.Name, func(st monitor.ServiceStatus) bool { return st.State == "on-standby" })
	if err != nil {
		t.Fatalf("service never reached on-standby: %v", err)
	}
	addr, err := w.answersFromStandby(ctx, s)
	if err != nil {
		t.Fatalf("after failover: %v", err)
	}
	if st.Address != addr || st.Where != "standby" {
		t.Errorf("status says %s at %s, DNS says %s", st.Where, st.Address, addr)
	}
	inc := st.LastIncident
	if inc == nil || inc.Open || inc.Result != "recovered" || inc.Source != "monitor" {
		t.Fatalf("last incident = %+v, want a closed, recovered incident opened by the monitor", inc)
	}
	want := []string{"detected", "confirmed", "fenced", "activating", "activated", "healthy", "dns-flipped", "on-standby"}
	got := map[string]monitor.PhaseStatus{}
	for _, p := range inc.Phases {
		got[p.Phase] = p
	}
	for _, ph := range want {
		if _, ok := got[ph]; !ok {
			t.Errorf("phase %q missing from %+v", ph, inc.Phases)
		}
	}
	if flip := got["dns-flipped"]; flip.AtMS <= 0 || flip.AtMS > inc.TotalMS {
		t.Errorf("dns-flipped at %v ms of %v ms total: phase timings are not filled in", flip.AtMS, inc.TotalMS)
	}
	if st.Incidents != 1 {
		t.Errorf("incidents = %d, want 1", st.Incidents)
	}
	t.Logf("%s failover: total %.1f ms, phases %+v, agent %+v", mode, inc.TotalMS, inc.Phases, inc.Agent)
}
