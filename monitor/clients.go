package monitor

import (
	"context"

	"github.com/understudy/understudy/monitor/conns"
	"github.com/understudy/understudy/monitor/prepare"
	"github.com/understudy/understudy/monitor/steps"
	"github.com/understudy/understudy/monitor/supervise"
)

// agentsOf gives the preparer the agent clients.
type agentsOf struct{ conns *conns.Conns }

var _ prepare.Agents = agentsOf{}

// Agent implements prepare.Agents.
func (a agentsOf) Agent(name string) (prepare.Agent, error) { return a.conns.Agent(name) }

// stepAgents and stepHVs give the executor's steps the clients.
type (
	stepAgents struct{ conns *conns.Conns }
	stepHVs    struct{ conns *conns.Conns }
)

var (
	_ steps.Agents      = stepAgents{}
	_ steps.Hypervisors = stepHVs{}
)

// Agent implements steps.Agents.
func (a stepAgents) Agent(name string) (steps.Agent, error) { return a.conns.Agent(name) }

// Hypervisor implements steps.Hypervisors.
func (h stepHVs) Hypervisor(ctx context.Context, name string) (steps.Hypervisor, error) {
	return h.conns.Hypervisor(ctx, name)
}

// superAgents and superHVs give the probe supervisor the clients.
type (
	superAgents struct{ conns *conns.Conns }
	superHVs    struct{ conns *conns.Conns }
)

var (
	_ supervise.Agents      = superAgents{}
	_ supervise.Hypervisors = superHVs{}
)

// Agent implements supervise.Agents.
func (a superAgents) Agent(name string) (supervise.Agent, error) { return a.conns.Agent(name) }

// Hypervisor implements supervise.Hypervisors.
func (h superHVs) Hypervisor(ctx context.Context, name string) (supervise.Hypervisor, error) {
	return h.conns.Hypervisor(ctx, name)
}
