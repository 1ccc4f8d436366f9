package e2e

import (
	"context"
	"net/http"
	"testing"

	"github.com/understudy/understudy/monitor"
	"github.com/understudy/understudy/monitor/api"
)

// TestIntegrationSuspectAndManualFailover drives the API the proxy and the
// operator use: a suspect report about a healthy primary is disputed by the
// standby agent (no flip); a manual failover fences the primary and moves
// the service to the standby.
func TestIntegrationSuspectAndManualFailover(t *testing.T) {
	w := newWorld(t, 164, map[string]string{"manual": "warm"})
	s := w.services[0]
	r := w.startController(monitor.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), failoverBound)
	defer cancel()
	r.waitPrepared(ctx, t, s.Name)

	if code, err := r.post(ctx, "/v1/services/"+s.Name+"/suspect"); err != nil || code != http.StatusAccepted {
		t.Fatalf("suspect: %d %v", code, err)
	}
	st, err := r.waitService(ctx, s.Name, func(st api.ServiceStatus) bool {
		return st.LastIncident != nil && !st.LastIncident.Open
	})
	if err != nil {
		t.Fatalf("the suspect incident never closed: %v", err)
	}
	if st.State != "primary" || st.LastIncident.Result != "disagreement" || st.LastIncident.Source != "proxy" {
		t.Errorf("after a suspect about a healthy primary: %s, %+v", st.State, st.LastIncident)
	}
	if addrs, err := lookupA(ctx, w.lab.DNSServer, s.FQDN); err != nil || len(addrs) != 1 || addrs[0] != s.Address {
		t.Errorf("%s = %v (%v), want the primary %s", s.FQDN, addrs, err, s.Address)
	}

	if code, err := r.post(ctx, "/v1/services/"+s.Name+"/failover"); err != nil || code != http.StatusAccepted {
		t.Fatalf("failover: %d %v", code, err)
	}
	st, err = r.waitService(ctx, s.Name, func(st api.ServiceStatus) bool { return st.State == "on-standby" })
	if err != nil {
		t.Fatalf("manual failover never reached on-standby: %v", err)
	}
	if st.LastIncident.Source != "cli" || st.Incidents != 2 {
		t.Errorf("incident %+v, %d incidents; want the second, from the cli", st.LastIncident, st.Incidents)
	}
	if _, err := w.answersFromStandby(ctx, s); err != nil {
		t.Fatalf("after manual failover: %v", err)
	}
	state, err := w.hostA.State(ctx, s.VM)
	if err != nil || state.Running {
		t.Errorf("primary after the fence: %+v %v, want stopped", state, err)
	}
	if code, err := r.post(ctx, "/v1/services/"+s.Name+"/failover"); err != nil || code != http.StatusConflict {
		t.Errorf("second failover: %d %v, want 409", code, err)
	}
}
