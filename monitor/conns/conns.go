// Package conns holds the monitor daemon's open clients of the standby
// agents (mutual TLS from monitor.agent-tls) and of the hypervisors (lxd,
// connected on first use, so a hypervisor that is down at start does not
// stop the monitor), reused across reloads while their settings stay the
// same. It does not call them itself.
package conns

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

// Agent is what the daemon needs from a standby agent; *standby.Client
// satisfies it.
type Agent interface {
	Prepare(ctx context.Context, epoch uint64, spec standby.ServiceSpec) (standby.ServiceStatus, error)
	Activate(ctx context.Context, epoch uint64, name string) (standby.Activation, error)
	Deactivate(ctx context.Context, epoch uint64, name string) (standby.ServiceStatus, error)
	Probe(ctx context.Context, req standby.ProbeRequest) (standby.ProbeResult, error)
}

// Hypervisor is what the daemon needs from a hypervisor's API; *lxd.Client
// satisfies it.
type Hypervisor interface {
	State(ctx context.Context, name string) (lxd.State, error)
	Statuses(ctx context.Context) (map[string]lxd.State, error)
	Stop(ctx context.Context, name string, timeout time.Duration) error
	Freeze(ctx context.Context, name string) error
	ServerInfo(ctx context.Context) (lxd.ServerInfo, error)
}

// OpenAgent opens the client of a standby agent with the monitor's
// agent-tls files; OpenHypervisor opens a hypervisor's API.
type (
	OpenAgent      func(sb inventory.Standby, tls inventory.TLSFiles) (Agent, error)
	OpenHypervisor func(ctx context.Context, h inventory.Hypervisor) (Hypervisor, error)
)

// Conns holds the open clients of agents and hypervisors, reused across
// reloads while their connection settings stay the same. Safe for
// concurrent use.
type Conns struct {
	openAgent OpenAgent
	openHV    OpenHypervisor

	mu     sync.Mutex
	agents map[string]agentConn // by standby name
	hvs    map[string]*lazyHV   // by hypervisor name
}

type agentConn struct {
	key   string // URL and TLS files it was opened with
	agent Agent
}

// New returns no clients yet; Update opens them. A nil opener is the
// default: standby.NewClient over mutual TLS, lxd.Connect.
func New(openAgent OpenAgent, openHV OpenHypervisor) *Conns {
	c := &Conns{openAgent: openAgent, openHV: openHV, agents: map[string]agentConn{}, hvs: map[string]*lazyHV{}}
	if c.openAgent == nil {
		c.openAgent = openStandbyClient
	}
	if c.openHV == nil {
		c.openHV = openLXD
	}
	return c
}

// openStandbyClient is the default: a standby.Client over mutual TLS.
func openStandbyClient(sb inventory.Standby, files inventory.TLSFiles) (Agent, error) {
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

// Update opens the agents and hypervisors of inv that are new or changed.
// It fails when an agent client cannot be built (bad TLS files); it does not
// reach agents or hypervisors (a hypervisor that is down is what the monitor
// is for), so it never fails for a host that does not answer.
func (c *Conns) Update(inv *inventory.Inventory) error {
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
			for name, opened := range agents { // the ones this call opened
				if old, ok := c.agents[name]; !ok || old != opened {
					closeAgent(opened.agent)
				}
			}
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

// Agent returns the client of a standby agent.
func (c *Conns) Agent(name string) (Agent, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.agents[name]
	if !ok {
		return nil, fmt.Errorf("standby %q: no agent configured", name)
	}
	return a.agent, nil
}

// Hypervisor returns the API of a hypervisor, connecting on first use.
func (c *Conns) Hypervisor(ctx context.Context, name string) (Hypervisor, error) {
	c.mu.Lock()
	h, ok := c.hvs[name]
	c.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("hypervisor %q: not in the inventory", name)
	}
	return h.get(ctx)
}

// Close releases every client.
func (c *Conns) Close() {
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
	dialing chan struct{} // closed when the connection attempt under way ends
	closed  bool
	lastTry time.Time
	lastErr error
}

// errRetryLater keeps a dead hypervisor from being dialled on every probe.
var errRetryLater = errors.New("connection failed less than a second ago")

// get returns the connection, dialling it when there is none. The lock is
// not held while dialling: a caller waiting for another's attempt gives up
// when its own ctx ends.
func (l *lazyHV) get(ctx context.Context) (Hypervisor, error) {
	for {
		l.mu.Lock()
		if l.hv != nil {
			hv := l.hv
			l.mu.Unlock()
			return hv, nil
		}
		if l.lastErr != nil && time.Since(l.lastTry) < time.Second {
			err := l.lastErr
			l.mu.Unlock()
			return nil, fmt.Errorf("connect to hypervisor %q: %w (%w)", l.spec.Name, err, errRetryLater)
		}
		if wait := l.dialing; wait != nil {
			l.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, fmt.Errorf("connect to hypervisor %q: %w", l.spec.Name, ctx.Err())
			}
		}
		return l.dial(ctx)
	}
}

// dial makes one connection attempt; it is called with l.mu held and
// returns with it released.
func (l *lazyHV) dial(ctx context.Context) (Hypervisor, error) {
	done := make(chan struct{})
	l.dialing, l.lastTry = done, time.Now()
	l.mu.Unlock()
	hv, err := l.open(ctx, l.spec)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dialing = nil
	close(done)
	if err != nil {
		l.lastErr = err
		return nil, fmt.Errorf("connect to hypervisor %q: %w", l.spec.Name, err)
	}
	if l.closed { // closed while dialling: nobody owns this connection
		closeHV(hv)
		return nil, fmt.Errorf("connect to hypervisor %q: connection closed", l.spec.Name)
	}
	l.hv, l.lastErr = hv, nil
	return hv, nil
}

// closeHV closes a hypervisor connection that can be closed.
func closeHV(hv Hypervisor) {
	if cl, ok := hv.(interface{ Close() }); ok {
		cl.Close()
	}
}

func (l *lazyHV) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.hv != nil {
		closeHV(l.hv)
	}
	l.hv, l.closed = nil, true
}
