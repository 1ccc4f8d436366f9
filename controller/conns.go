package controller

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/lxd"
	"github.com/understudy/understudy/standby"
)

// conns holds the open clients of agents and hypervisors, reused across
// reloads while their connection settings stay the same.
type conns struct {
	openAgent func(inventory.Standby, TLSFiles) (Agent, error)
	openHV    func(context.Context, inventory.Hypervisor) (Hypervisor, error)

	mu     sync.Mutex
	agents map[string]agentConn // by standby name
	hvs    map[string]*lazyHV   // by hypervisor name
}

type agentConn struct {
	key   string // URL and TLS files it was opened with
	agent Agent
}

func newConns(o Options) *conns {
	c := &conns{openAgent: o.Agents, openHV: o.Hypervisors, agents: map[string]agentConn{}, hvs: map[string]*lazyHV{}}
	if c.openAgent == nil {
		c.openAgent = openStandbyClient
	}
	if c.openHV == nil {
		c.openHV = openLXD
	}
	return c
}

// openStandbyClient is the default: a standby.Client over mutual TLS.
func openStandbyClient(sb inventory.Standby, files TLSFiles) (Agent, error) {
	if files.IsZero() {
		return nil, fmt.Errorf("standby %q: monitor.agent-tls is not set; agents require mutual TLS", sb.Name)
	}
	cfg, err := standby.ClientTLSConfig(files.CA, files.Cert, files.Key)
	if err != nil {
		return nil, fmt.Errorf("standby %q: load monitor.agent-tls: %w", sb.Name, err)
	}
	return standby.NewClient(sb.Agent, cfg), nil
}

// openLXD is the default: the lxd adapter over the inventory's connection.
func openLXD(ctx context.Context, h inventory.Hypervisor) (Hypervisor, error) {
	c, err := lxd.Connect(ctx, lxd.Conn{
		Name: h.Name, Socket: h.Incus.Socket, URL: h.Incus.URL,
		ClientCert: h.Incus.ClientCert, ClientKey: h.Incus.ClientKey, ServerCert: h.Incus.ServerCert,
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// update opens the agents and hypervisors of inv that are new or changed.
// It fails when an agent client cannot be built (bad TLS files); it does not
// reach agents or hypervisors (a hypervisor that is down is what the monitor
// is for), so it never fails for a host that does not answer.
func (c *conns) update(inv *inventory.Inventory) error {
	agents := map[string]agentConn{}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, sb := range inv.Standby {
		files := inv.Monitor.AgentTLS
		key := fmt.Sprint(sb.Agent, files)
		if old, ok := c.agents[sb.Name]; ok && old.key == key {
			agents[sb.Name] = old
			continue
		}
		a, err := c.openAgent(sb, files)
		if err != nil {
			return err
		}
		agents[sb.Name] = agentConn{key: key, agent: a}
	}
	hvs := map[string]*lazyHV{}
	for _, h := range inv.Hypervisors {
		if old, ok := c.hvs[h.Name]; ok && old.spec == h {
			hvs[h.Name] = old
			continue
		}
		hvs[h.Name] = &lazyHV{spec: h, open: c.openHV}
	}
	for name, old := range c.agents {
		if agents[name] != old {
			closeAgent(old.agent)
		}
	}
	for name, old := range c.hvs {
		if hvs[name] != old {
			old.close()
		}
	}
	c.agents, c.hvs = agents, hvs
	return nil
}

// agent returns the client of a standby agent.
func (c *conns) agent(name string) (Agent, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.agents[name]
	if !ok {
		return nil, fmt.Errorf("standby %q: no agent configured", name)
	}
	return a.agent, nil
}

// hypervisor returns the API of a hypervisor, connecting on first use.
func (c *conns) hypervisor(ctx context.Context, name string) (Hypervisor, error) {
	c.mu.Lock()
	h, ok := c.hvs[name]
	c.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("hypervisor %q: not in the inventory", name)
	}
	return h.get(ctx)
}

// close releases every client.
func (c *conns) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range c.agents {
		closeAgent(a.agent)
	}
	for _, h := range c.hvs {
		h.close()
	}
	c.agents, c.hvs = map[string]agentConn{}, map[string]*lazyHV{}
}

func closeAgent(a Agent) {
	if cl, ok := a.(interface{ Close() }); ok {
		cl.Close()
	}
}

// lazyHV connects to a hypervisor when first needed and again after a
// failed connection attempt, at most once per second.
type lazyHV struct {
	spec inventory.Hypervisor
	open func(context.Context, inventory.Hypervisor) (Hypervisor, error)

	mu      sync.Mutex
	hv      Hypervisor
	lastTry time.Time
	lastErr error
}

// errRetryLater keeps a dead hypervisor from being dialled on every probe.
var errRetryLater = errors.New("connection failed less than a second ago")

func (l *lazyHV) get(ctx context.Context) (Hypervisor, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.hv != nil {
		return l.hv, nil
	}
	if l.lastErr != nil && time.Since(l.lastTry) < time.Second {
		return nil, fmt.Errorf("connect to hypervisor %q: %w (%w)", l.spec.Name, l.lastErr, errRetryLater)
	}
	l.lastTry = time.Now()
	hv, err := l.open(ctx, l.spec)
	if err != nil {
		l.lastErr = err
		return nil, fmt.Errorf("connect to hypervisor %q: %w", l.spec.Name, err)
	}
	l.hv, l.lastErr = hv, nil
	return hv, nil
}

func (l *lazyHV) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if cl, ok := l.hv.(interface{ Close() }); ok {
		cl.Close()
	}
	l.hv = nil
}
