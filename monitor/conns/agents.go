package conns

import (
	"context"
	"fmt"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor/capacity"
	"github.com/understudy/understudy/monitor/migrate"
	"github.com/understudy/understudy/standby"
)

var (
	_ capacity.Source = StandbyCapacity{}
	_ capacity.Source = SpareCapacity{}
)

// OpenSpareAgent opens a client of the agent of the spare named name
// (spares[].agent) over monitor.agent-tls; the caller closes it.
func OpenSpareAgent(inv *inventory.Inventory, name string) (*standby.Client, error) {
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

// capacityReader is the part of *standby.Client that reads capacity.
type capacityReader interface {
	Capacity(ctx context.Context) (standby.Capacity, error)
}

// healthReporter is the part of *standby.Client that reads its health; the
// Restore field is the agent's CRIU status.
type healthReporter interface {
	Health(ctx context.Context) (standby.Health, error)
}

// StandbyCapacity reads what the standby agents report (GET /v1/capacity)
// through the clients c holds.
type StandbyCapacity struct{ Conns *Conns }

// Capacity asks the agent of the standby named name.
func (s StandbyCapacity) Capacity(ctx context.Context, name string) (standby.Capacity, error) {
	ag, err := s.Conns.Agent(name)
	if err != nil {
		return standby.Capacity{}, err
	}
	r, ok := ag.(capacityReader)
	if !ok {
		return standby.Capacity{}, fmt.Errorf("standby %q: %w", name, capacity.ErrNoCapacity)
	}
	return r.Capacity(ctx)
}

// SpareCapacity reads what the spares' agents report, over
// monitor.agent-tls of the inventory in force. It opens a client per sample
// and closes it after (one sample per spare per move interval), so no
// connection outlives the sample.
type SpareCapacity struct{ Inventory func() *inventory.Inventory }

// Capacity asks the agent of the spare named name.
func (s SpareCapacity) Capacity(ctx context.Context, name string) (standby.Capacity, error) {
	cl, err := OpenSpareAgent(s.Inventory(), name)
	if err != nil {
		return standby.Capacity{}, err
	}
	defer cl.Close()
	cp, err := cl.Capacity(ctx)
	if err != nil {
		return standby.Capacity{}, fmt.Errorf("read capacity of spare %q: %w", name, err)
	}
	return cp, nil
}

// StandbyCRIU returns the CRIU status the agent of the standby named name
// reports (its health's Restore), through the client c holds.
func (c *Conns) StandbyCRIU(ctx context.Context, name string) (string, error) {
	a, err := c.Agent(name)
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

// SpareCRIU returns the CRIU status the agent of a spare of inv reports,
// with a client of its own.
func SpareCRIU(ctx context.Context, inv *inventory.Inventory, name string) (string, error) {
	cl, err := OpenSpareAgent(inv, name)
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
