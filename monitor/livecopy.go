package monitor

import (
	"context"
	"fmt"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor/migrate"
	"github.com/understudy/understudy/standby"
)

// healthReporter is an agent client that answers GET /v1/health
// (*standby.Client); its Restore field is the agent's CRIU status.
type healthReporter interface {
	Health(ctx context.Context) (standby.Health, error)
}

// standbyCRIU is migrate.Config.StandbyCRIU: the standby agent's CRIU
// status, through the daemon's client of it.
func (c *Controller) standbyCRIU(ctx context.Context, name string) (string, error) {
	a, err := c.conns.Agent(name)
	if err != nil {
		return "", err
	}
	r, ok := a.(healthReporter)
	if !ok {
		return "", fmt.Errorf("standby %q: its client (%T) reports no health", name, a)
	}
	h, err := r.Health(ctx)
	if err != nil {
		return "", fmt.Errorf("standby %q: %w", name, err)
	}
	return h.Restore, nil
}

// spareCRIU is migrate.Config.SpareCRIU: the spare agent's CRIU status,
// with a client of its own (openSpareAgent, as for its capacity).
func (c *Controller) spareCRIU(ctx context.Context, name string) (string, error) {
	cl, err := openSpareAgent(c.plan().Inv, name)
	if err != nil {
		return "", err
	}
	defer cl.Close()
	h, err := cl.Health(ctx)
	if err != nil {
		return "", fmt.Errorf("spare %q: %w", name, err)
	}
	return h.Restore, nil
}

// openSpareAgent opens a client of the agent of the spare named name
// (spares[].agent) over monitor.agent-tls; the caller closes it.
func openSpareAgent(inv *inventory.Inventory, name string) (*standby.Client, error) {
	sp := inv.Spare(name)
	if sp == nil || sp.Agent == "" {
		return nil, fmt.Errorf("spare %q: %w", name, migrate.ErrNoAgent)
	}
	files := inv.Monitor.AgentTLS
	if files.IsZero() {
		return nil, fmt.Errorf("spare %q: monitor.agent-tls is not set; agents require mutual TLS", name)
	}
	cfg, err := standby.ClientTLSConfig(files.CA, files.Cert, files.Key)
	if err != nil {
		return nil, fmt.Errorf("spare %q: load monitor.agent-tls: %w", name, err)
	}
	return standby.NewClient(sp.Agent, cfg), nil
}
