package monitor

import (
	"context"

	"github.com/understudy/understudy/monitor/conns"
	"github.com/understudy/understudy/monitor/prepare"
	"github.com/understudy/understudy/monitor/steps"
	"github.com/understudy/understudy/monitor/supervise"
)

// The clients in conns satisfy what each part asks of an agent and of a
// hypervisor (checked here, at compile time).
var (
	_ prepare.Agent        = conns.Agent(nil)
	_ steps.Agent          = conns.Agent(nil)
	_ supervise.Agent      = conns.Agent(nil)
	_ steps.Hypervisor     = conns.Hypervisor(nil)
	_ supervise.Hypervisor = conns.Hypervisor(nil)

	_ prepare.Agents        = agentsAs[prepare.Agent]{}
	_ steps.Agents          = agentsAs[steps.Agent]{}
	_ supervise.Agents      = agentsAs[supervise.Agent]{}
	_ steps.Hypervisors     = hypervisorsAs[steps.Hypervisor]{}
	_ supervise.Hypervisors = hypervisorsAs[supervise.Hypervisor]{}
)

// agentsAs gives a part the agent clients as the interface A it defines
// (one that conns.Agent satisfies, see above).
type agentsAs[A any] struct{ conns *conns.Conns }

// Agent returns the client of a standby agent as an A.
func (a agentsAs[A]) Agent(name string) (A, error) {
	ag, err := a.conns.Agent(name)
	if err != nil {
		var none A
		return none, err
	}
	return any(ag).(A), nil
}

// hypervisorsAs gives a part the hypervisors' clients as the interface H
// it defines (one that conns.Hypervisor satisfies, see above).
type hypervisorsAs[H any] struct{ conns *conns.Conns }

// Hypervisor returns the API of a hypervisor as an H.
func (h hypervisorsAs[H]) Hypervisor(ctx context.Context, name string) (H, error) {
	hv, err := h.conns.Hypervisor(ctx, name)
	if err != nil {
		var none H
		return none, err
	}
	return any(hv).(H), nil
}
