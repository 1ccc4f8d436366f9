package monitor

import (
	"context"
	"fmt"
	"time"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor/admission"
	"github.com/understudy/understudy/monitor/conns"
	"github.com/understudy/understudy/monitor/signals"
	"github.com/understudy/understudy/recover"
)

// newGate returns the admission gate of the controller's activations
// (package admission): what the plan says of each service, the agents'
// live capacity, the incidents that wait for capacity, and the monitor's
// trigger that re-arms one.
func (c *Controller) newGate() *admission.Gate {
	return admission.New(admission.Config{
		Services: c.admissionServices,
		Limit:    func() int { return c.plan().Inv.Monitor.MaxParallelActivations },
		Agents:   admissionAgents{c.conns},
		Waiting:  c.waitingForCapacity,
		Rearm:    c.rearmForCapacity,
		Settle: func() time.Duration {
			m := c.plan().Inv.Monitor
			return m.Interval + m.Timeout
		},
		Clock: c.opts.Clock,
		Log:   c.log,
	})
}

// admissionServices is what the gate needs of the plan's services.
func (c *Controller) admissionServices() map[string]admission.Service {
	inv := c.plan().Inv
	out := make(map[string]admission.Service, len(inv.Services))
	for _, s := range inv.Services {
		out[s.Name] = admission.Service{Standby: s.Standby, Priority: s.Priority, Memory: s.Container.Limits.Memory,
			Warm: s.Mode == inventory.ModeWarm}
	}
	return out
}

// unprotected returns why rec's service waits for capacity on its standby
// ("no capacity (needs 512 MiB, 128 MiB free)"): its failover stopped at
// an activation the standby refused (signals.Of's NoCapacity).
func unprotected(rec recover.Record) (string, bool) {
	if !signals.Of(rec, false, time.Time{}).NoCapacity {
		return "", false
	}
	reason := rec.Incident.UnprotectedReason()
	return reason, reason != ""
}

// waitingForCapacity lists the services whose failover waits for capacity
// (none while following).
func (c *Controller) waitingForCapacity() []string {
	t := c.roles.leading()
	if t == nil {
		return nil
	}
	var out []string
	for _, rec := range t.exec.Records() {
		if _, ok := unprotected(rec); ok {
			out = append(out, rec.Service)
		}
	}
	return out
}

// rearmForCapacity sends the monitor's trigger that runs a waiting
// service's activate step again, if it still waits.
func (c *Controller) rearmForCapacity(ctx context.Context, svc, reason string) error {
	t := c.roles.leading()
	if t == nil {
		return errNoLeader
	}
	for _, rec := range t.exec.Records() {
		if rec.Service == svc {
			if _, ok := unprotected(rec); !ok {
				return fmt.Errorf("service %q no longer waits for capacity (%s)", svc, rec.State)
			}
			return c.trigger(ctx, svc, recover.FromMonitor, reason)
		}
	}
	return fmt.Errorf("service %q: no record", svc)
}

// admissionAgents gives the gate the agents' clients; an agent client that
// cannot report capacity (a test's fake) leaves the decision to the agent.
type admissionAgents struct{ conns *conns.Conns }

// Agent returns the client of a standby agent as an admission.Agent.
func (a admissionAgents) Agent(name string) (admission.Agent, error) {
	ag, err := a.conns.Agent(name)
	if err != nil {
		return nil, err
	}
	r, ok := ag.(admission.Agent)
	if !ok {
		return nil, fmt.Errorf("standby %q: its client reports no capacity", name)
	}
	return r, nil
}
