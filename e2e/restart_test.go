package e2e

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/understudy/understudy/controller"
	"github.com/understudy/understudy/playbooks"
	"github.com/understudy/understudy/recover"
)

// countingDNS counts the replaces that changed a record.
type countingDNS struct {
	recover.DNS
	flips atomic.Int32
}

func (c *countingDNS) Replace(ctx context.Context, name string, addrs, expect []netip.Addr) error {
	err := c.DNS.Replace(ctx, name, addrs, expect)
	if err == nil {
		c.flips.Add(1)
	}
	return err
}

// TestIntegrationRestartMidIncident stops the monitor right after the
// activation of a cold service started, starts a new one on the same state
// directory, and checks that the incident completes exactly once.
func TestIntegrationRestartMidIncident(t *testing.T) {
	w := newWorld(t, 162, map[string]string{"restart": "cold"})
	s := w.services[0]
	dns := &countingDNS{DNS: &controller.DNSAdapter{Client: w.dns, TTL: 10 * time.Second}}

	activating := make(chan recover.Record, 1)
	var once sync.Once
	hook := func(rec recover.Record) {
		inc := rec.Incident
		if inc == nil || !inc.Open() || inc.Current >= len(inc.Steps) {
			return
		}
		if st := inc.Steps[inc.Current]; st.Kind == playbooks.Activate && st.Status == recover.StatusRunning {
			once.Do(func() { activating <- rec })
		}
	}
	first := w.startController(controller.Options{DNS: dns, OnSave: hook})
	ctx, cancel := context.WithTimeout(context.Background(), failoverBound)
	defer cancel()
	first.waitPrepared(ctx, t, s.Name)
	if err := first.waitMetric(ctx, "understudy_monitor_target_up", "service/"+s.Name, func(v float64) bool { return v == 1 }); err != nil {
		t.Fatalf("monitor never saw the service up: %v", err)
	}
	if err := w.hostA.Stop(ctx, s.VM, 0); err != nil {
		t.Fatalf("force-stop primary: %v", err)
	}
	var killed recover.Record
	select {
	case killed = <-activating:
	case <-ctx.Done():
		t.Fatalf("activation never started: %v", ctx.Err())
	}
	// Let the activate request reach the agent (a cold start takes ~200ms
	// here), so the monitor dies while the agent is starting the container.
	time.Sleep(50 * time.Millisecond)
	first.stop(t)
	if dns.flips.Load() != 0 {
		t.Fatalf("the first monitor flipped DNS %d times before it was stopped; the kill came too late to test a resume", dns.flips.Load())
	}
	t.Logf("stopped the monitor during %s of incident %s", killed.Incident.Steps[killed.Incident.Current].Kind, killed.Incident.ID)

	second := w.startController(controller.Options{DNS: dns})
	st, err := second.waitService(ctx, s.Name, func(st controller.ServiceStatus) bool { return st.State == "on-standby" })
	if err != nil {
		t.Fatalf("the resumed incident never reached on-standby: %v", err)
	}
	if _, err := w.answersFromStandby(ctx, s); err != nil {
		t.Fatalf("after the resumed failover: %v", err)
	}
	if n := dns.flips.Load(); n != 1 {
		t.Errorf("DNS was flipped %d times, want exactly 1", n)
	}
	if st.Incidents != 1 {
		t.Errorf("incidents = %d, want 1", st.Incidents)
	}
	if inc := st.LastIncident; inc == nil || inc.ID != killed.Incident.ID || inc.Result != "recovered" {
		t.Errorf("last incident = %+v, want %s recovered", inc, killed.Incident.ID)
	}
	for _, step := range st.LastIncident.Steps {
		if step.Status != "done" && step.Status != "skipped" {
			t.Errorf("step %s is %s", step.Kind, step.Status)
		}
	}
}
