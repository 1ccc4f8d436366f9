package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/understudy/understudy/internal/labtest"
	"github.com/understudy/understudy/monitor"
	"github.com/understudy/understudy/monitor/api"
)

// failoverBound is how long a whole failover may take in a test; the
// benchmarks measure how long it does take.
const failoverBound = 60 * time.Second

func TestIntegrationFailoverWarm(t *testing.T) { testFailover(t, "warm", 160) }

func TestIntegrationFailoverCold(t *testing.T) { testFailover(t, "cold", 161) }

// TestIntegrationFailoverKnot is the warm failover with the zone's primary
// on the lab's Knot DNS: the monitor flips the record there, with Knot's key.
// It reuses TestIntegrationFailoverWarm's address (tests of a package run
// one after the other).
func TestIntegrationFailoverKnot(t *testing.T) {
	testFailoverOn(t, newWorldOn(t, 160, map[string]string{"warm-knot": "warm"}, labtest.DNSKnot))
}

// TestIntegrationFailoverPowerDNS is the warm failover with the zone's
// primary on the lab's PowerDNS (SQLite backend), with its key; it reuses
// TestIntegrationFailoverCold's address.
func TestIntegrationFailoverPowerDNS(t *testing.T) {
	testFailoverOn(t, newWorldOn(t, 161, map[string]string{"warm-pdns": "warm"}, labtest.DNSPDNS))
}

// testFailover force-stops a service's primary and checks that the name
// answers from the standby container and that the status tells the story.
func testFailover(t *testing.T, mode string, base int) {
	testFailoverOn(t, newWorld(t, base, map[string]string{mode: mode}))
}

// testFailoverOn runs the failover of the world's one service. When the
// world's DNS is not BIND, BIND must not know the name: the flip went to the
// world's server and only there.
func testFailoverOn(t *testing.T, w *world) {
	s := w.services[0]
	mode := s.Mode
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
	st, err := r.waitService(ctx, s.Name, func(st api.ServiceStatus) bool { return st.State == "on-standby" })
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
	got := map[string]api.PhaseStatus{}
	for _, p := range inc.Phases {
		got[string(p.Phase)] = p
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
	if w.dnsSrv.Name != labtest.DNSBind {
		if n, err := countA(ctx, w.lab.DNSServer, s.FQDN); err != nil || n != 0 {
			t.Errorf("BIND has %d A records for %s (%v), want none: the flip belongs on %s only", n, s.FQDN, err, w.dnsSrv.Product)
		}
		t.Logf("%s at %s flipped %s to %s", w.dnsSrv.Product, w.dnsSrv.Addr, s.FQDN, addr)
	}
	t.Logf("%s failover (%s): total %.1f ms, phases %+v, agent %+v", mode, w.dnsSrv.Product, inc.TotalMS, inc.Phases, inc.Agent)
}

// countA asks server for name's A records; a name it does not know
// (NXDOMAIN) has none.
func countA(ctx context.Context, server, name string) (int, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	m.RecursionDesired = false
	in, _, err := (&dns.Client{Timeout: 2 * time.Second}).ExchangeContext(ctx, m, server)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, rr := range in.Answer {
		if _, ok := rr.(*dns.A); ok {
			n++
		}
	}
	return n, nil
}
