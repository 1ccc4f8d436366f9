package e2e

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor"
	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/monitor/steps"
	"github.com/understudy/understudy/playbooks"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/executor"
	"github.com/understudy/understudy/standby"
)

// countingDNS counts the replaces that changed a record.
type countingDNS struct {
	executor.DNS
	flips atomic.Int32
}

func (c *countingDNS) Replace(ctx context.Context, name string, addrs, expect []netip.Addr) error {
	err := c.DNS.Replace(ctx, name, addrs, expect)
	if err == nil {
		c.flips.Add(1)
	}
	return err
}

// withheldAgent is a standby agent client whose first activation reaches
// the agent, which does it, but whose answer never reaches the monitor: the
// call reports on answered and then waits until the monitor stops. The
// kill point is an event, not a guess at how long a cold start takes.
type withheldAgent struct {
	monitor.Agent
	once     sync.Once
	answered chan<- error
}

func (a *withheldAgent) Activate(ctx context.Context, epoch uint64, name string) (standby.Activation, error) {
	first := false
	a.once.Do(func() { first = true })
	if !first {
		return a.Agent.Activate(ctx, epoch, name)
	}
	_, err := a.Agent.Activate(ctx, epoch, name)
	a.answered <- err
	<-ctx.Done() // the monitor stops before it hears the answer
	return standby.Activation{}, ctx.Err()
}

// TestIntegrationRestartMidIncident stops the monitor in the activation
// step of a cold service, after the agent started the container but before
// the monitor heard the answer, starts a new one on the same state
// directory, and checks that the incident completes exactly once.
func TestIntegrationRestartMidIncident(t *testing.T) {
	w := newWorld(t, 162, map[string]string{"restart": "cold"})
	s := w.services[0]
	dns := &countingDNS{DNS: &steps.DNSAdapter{Client: w.dns, TTL: 10 * time.Second}}

	answered := make(chan error, 1)
	agents := func(sb inventory.Standby, files monitor.TLSFiles) (monitor.Agent, error) {
		cfg, err := standby.ClientTLSConfig(files.CA, files.Cert, files.Key)
		if err != nil {
			return nil, err
		}
		return &withheldAgent{Agent: standby.NewClient(sb.Agent, cfg), answered: answered}, nil
	}
	var mu sync.Mutex
	var last recover.Record // the first monitor's last saved record
	keep := func(rec recover.Record) {
		mu.Lock()
		defer mu.Unlock()
		last = rec
	}
	first := w.startController(monitor.Options{DNS: dns, Agents: agents, OnSave: keep})
	ctx, cancel := context.WithTimeout(context.Background(), failoverBound)
	defer cancel()
	first.waitPrepared(ctx, t, s.Name)
	if err := first.waitMetric(ctx, "understudy_probe_target_up", "service/"+s.Name, func(v float64) bool { return v == 1 }); err != nil {
		t.Fatalf("monitor never saw the service up: %v", err)
	}
	if err := w.hostA.Stop(ctx, s.VM, 0); err != nil {
		t.Fatalf("force-stop primary: %v", err)
	}
	select {
	case err := <-answered:
		if err != nil {
			t.Fatalf("the agent's first activation: %v", err)
		}
	case <-ctx.Done():
		t.Fatalf("activation never reached the agent: %v", ctx.Err())
	}
	first.stop(t)
	if dns.flips.Load() != 0 {
		t.Fatalf("the first monitor flipped DNS %d times without the activation's answer", dns.flips.Load())
	}
	mu.Lock()
	killed := last
	mu.Unlock()
	if inc := killed.Incident; inc == nil || !inc.Open() || inc.Steps[inc.Current].Kind != playbooks.Activate {
		t.Fatalf("the stopped monitor left %+v, want an open incident in its activate step", inc)
	}
	t.Logf("stopped the monitor during %s of incident %s", killed.Incident.Steps[killed.Incident.Current].Kind, killed.Incident.ID)

	second := w.startController(monitor.Options{DNS: dns})
	st, err := second.waitService(ctx, s.Name, func(st api.ServiceStatus) bool { return st.State == "on-standby" })
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
