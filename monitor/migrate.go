package monitor

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/lxd"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/standby"
)

var (
	_ recover.Migrator      = (*lxdMigrator)(nil)
	_ recover.NotedMigrator = (*lxdMigrator)(nil)
	_ recover.Deactivator   = (*deactivator)(nil)
)

// SparePool is the address range a spare's copies get their static
// address from (environment.IPADDR and environment.GATEWAY, as the standby
// agent's pool does on the standby VM).
//
// Limitation: the inventory has no network key for spares yet; the next
// step is an inventory key spares[].network. Until then the pools come from
// Options.SparePools, and DefaultSparePool (the lab's spare bridge) applies
// to every spare without one.
type SparePool struct {
	First, Last netip.Addr // inclusive range
	Gateway     netip.Addr
	PrefixLen   int
}

// DefaultSparePool is the lab's spare network: 10.200.2.100-10.200.2.129,
// gateway 10.200.2.1, /24.
var DefaultSparePool = SparePool{
	First: netip.MustParseAddr("10.200.2.100"), Last: netip.MustParseAddr("10.200.2.129"),
	Gateway: netip.MustParseAddr("10.200.2.1"), PrefixLen: 24,
}

// errPoolExhausted: every address of a spare's pool is taken.
var errPoolExhausted = errors.New("spare address pool exhausted")

// pick returns the lowest address of the pool not in used.
func (p SparePool) pick(used map[netip.Addr]bool) (netip.Addr, error) {
	if !p.First.IsValid() || !p.Last.IsValid() || p.Last.Less(p.First) {
		return netip.Addr{}, fmt.Errorf("spare pool %v-%v is empty", p.First, p.Last)
	}
	for a := p.First; a.IsValid() && !p.Last.Less(a); a = a.Next() {
		if !used[a] {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("%v-%v: %w", p.First, p.Last, errPoolExhausted)
}

// lxdMigrator copies a service's container from its standby VM's LXD/Incus
// to a spare's with stop-copy-start (lxd.Client.Copy with Start, never
// Move: the standby slot must remain for reset-standby).
type lxdMigrator struct {
	c *Controller

	mu       sync.Mutex
	clients  map[string]*lxd.Client           // by "standby/NAME" or "spare/NAME" and the connection settings
	reserved map[string]map[netip.Addr]string // spare -> address -> service, copies in flight
}

func newLXDMigrator(c *Controller) *lxdMigrator {
	return &lxdMigrator{c: c, clients: map[string]*lxd.Client{}, reserved: map[string]map[netip.Addr]string{}}
}

// Copy implements recover.Migrator.
func (m *lxdMigrator) Copy(ctx context.Context, svc recover.Service, from, to string) (netip.Addr, error) {
	addr, _, err := m.CopyNoted(ctx, svc, from, to)
	return addr, err
}

// CopyNoted implements recover.NotedMigrator: Copy, and how the copy was
// made (live or stop-copy-start, and why: livecopy.go).
func (m *lxdMigrator) CopyNoted(ctx context.Context, svc recover.Service, _, to string) (netip.Addr, string, error) {
	src, err := m.standbyClient(ctx, svc.Standby)
	if err != nil {
		return netip.Addr{}, "", err
	}
	dst, err := m.spareClient(ctx, to)
	if err != nil {
		return netip.Addr{}, "", err
	}
	if st, err := dst.State(ctx, svc.Name); err == nil { // a re-run: the copy is there
		if !st.Running {
			if err := retryBusy(ctx, func() error { return dst.Start(ctx, svc.Name) }); err != nil {
				return netip.Addr{}, "", err
			}
		}
		addr, err := dst.WaitIPv4(ctx, svc.Name, "eth0")
		return addr, "the copy was there already", err
	}
	pool := m.c.sparePool(to)
	addr, release, err := m.reserve(to, svc.Name, pool)
	if err != nil {
		return netip.Addr{}, "", err
	}
	defer release()
	cfg := map[string]string{
		"environment.IPADDR":  fmt.Sprintf("%s/%d", addr, pool.PrefixLen),
		"environment.GATEWAY": pool.Gateway.String(),
	}
	// migration.bandwidth: a capped copy is relayed through this process.
	bw := m.c.plan().inv.Migration.Bandwidth
	start := time.Now()
	live, whyNot := m.liveFor(ctx, svc.Standby, to)
	note, err := copyLiveOrCold(ctx, live, whyNot, func(ctx context.Context, live bool) error {
		if live { // liveFor saw both agents' CRIU work
			src.SetStateful(true)
			dst.SetStateful(true)
		}
		err := retryBusy(ctx, func() error {
			// A live copy arrives running; a cold one is started.
			return src.Copy(ctx, dst, svc.Name, lxd.CopyOptions{Start: !live, Live: live, Config: cfg, Bandwidth: bw})
		})
		if errors.Is(err, lxd.ErrAlreadyExists) {
			err = retryBusy(ctx, func() error { return dst.Start(ctx, svc.Name) })
		}
		return err
	})
	if err != nil {
		return netip.Addr{}, "", err
	}
	m.c.log.Info("container copied to spare", "service", svc.Name, "spare", to, "address", addr,
		"took", time.Since(start), "bandwidth_bytes_per_second", bw, "how", note)
	got, err := dst.WaitIPv4(ctx, svc.Name, "eth0")
	return got, note, err
}

// DeleteCopy implements recover.Migrator.
func (m *lxdMigrator) DeleteCopy(ctx context.Context, svc recover.Service, on string) error {
	dst, err := m.spareClient(ctx, on)
	if err != nil {
		return err
	}
	return retryBusy(ctx, func() error { return dst.Delete(ctx, svc.Name) })
}

// reserve picks a free address of spare's pool for service: not the
// address of a service the records place on that spare, nor one reserved
// by a copy in flight.
func (m *lxdMigrator) reserve(spare, service string, pool SparePool) (netip.Addr, func(), error) {
	used := map[netip.Addr]bool{}
	for _, r := range m.c.exec().Records() {
		if r.Placement.Where == recover.AtSpare && r.Placement.Host == spare && r.Service != service {
			used[r.Placement.Address] = true
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for a, s := range m.reserved[spare] {
		if s != service {
			used[a] = true
		}
	}
	addr, err := pool.pick(used)
	if err != nil {
		return netip.Addr{}, nil, fmt.Errorf("address for %q on spare %q: %w", service, spare, err)
	}
	if m.reserved[spare] == nil {
		m.reserved[spare] = map[netip.Addr]string{}
	}
	m.reserved[spare][addr] = service
	return addr, func() {
		m.mu.Lock()
		delete(m.reserved[spare], addr)
		m.mu.Unlock()
	}, nil
}

// standbyClient connects to a standby VM's LXD/Incus (Options.StandbyIncus).
func (m *lxdMigrator) standbyClient(ctx context.Context, name string) (*lxd.Client, error) {
	in, ok := m.c.opts.StandbyIncus[name]
	if sb := m.c.plan().inv.StandbyVM(name); !ok && sb != nil && sb.Incus != (inventory.Incus{}) {
		in, ok = sb.Incus, true
	}
	if !ok {
		return nil, fmt.Errorf("copy from standby %q: its Incus is unknown (set standby[].incus in the inventory): %w", name, recover.ErrPermanent)
	}
	return m.client(ctx, "standby/"+name, name, in)
}

// spareClient connects to a spare's LXD/Incus (spares[].incus).
func (m *lxdMigrator) spareClient(ctx context.Context, name string) (*lxd.Client, error) {
	sp := m.c.plan().inv.Spare(name)
	if sp == nil {
		return nil, fmt.Errorf("spare %q is not in the inventory: %w", name, recover.ErrPermanent)
	}
	return m.client(ctx, "spare/"+name, name, sp.Incus)
}

// client returns the client of one daemon, connecting on first use. The
// cache key includes the connection settings, so a reload that changes them
// connects anew.
func (m *lxdMigrator) client(ctx context.Context, what, name string, in inventory.Incus) (*lxd.Client, error) {
	key := what + " " + fmt.Sprint(in)
	m.mu.Lock()
	defer m.mu.Unlock()
	if cl, ok := m.clients[key]; ok {
		return cl, nil
	}
	cl, err := lxd.Connect(ctx, lxd.Conn{Name: name, Socket: in.Socket, URL: in.URL,
		ClientCert: in.ClientCert, ClientKey: in.ClientKey, ServerCert: in.ServerCert})
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", what, err)
	}
	m.clients[key] = cl
	return cl, nil
}

// close closes every client.
func (m *lxdMigrator) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, cl := range m.clients {
		cl.Close()
	}
	m.clients = map[string]*lxd.Client{}
}

// retryBusy retries fn while LXD answers that the instance is busy (the
// standby agent adjusts live limits of active containers), at most 20 times.
func retryBusy(ctx context.Context, fn func() error) error {
	var err error
	for range 20 {
		if err = fn(); err == nil || !strings.Contains(err.Error(), "busy") {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(250 * time.Millisecond):
		}
	}
	return err
}

// deactivator asks the service's standby agent to return its container to
// the prepared state.
type deactivator struct{ c *Controller }

func (d *deactivator) Deactivate(ctx context.Context, epoch uint64, service string) error {
	name, ok := d.c.plan().standbys[service]
	if !ok {
		return fmt.Errorf("service %q: %w", service, recover.ErrUnknownService)
	}
	agent, err := d.c.conns.agent(name)
	if err != nil {
		return err
	}
	if _, err := agent.Deactivate(ctx, epoch, service); err != nil {
		if errors.Is(err, standby.ErrStaleEpoch) {
			err = fmt.Errorf("%w: %w", recover.ErrPermanent, err)
		}
		return fmt.Errorf("deactivate %q on standby %q: %w", service, name, err)
	}
	return nil
}

// sparePool is the address pool of a spare's copies.
func (c *Controller) sparePool(spare string) SparePool {
	if p, ok := c.opts.SparePools[spare]; ok {
		return p
	}
	if sp := c.plan().inv.Spare(spare); sp != nil && sp.Network != nil {
		// Validated with the inventory: the parse cannot fail here.
		first, last, _ := inventory.ParsePool(sp.Network.Pool)
		gw, _ := netip.ParseAddr(sp.Network.Gateway)
		return SparePool{First: first, Last: last, Gateway: gw, PrefixLen: sp.Network.PrefixLen}
	}
	return DefaultSparePool
}

// migrator returns the Migrator of Options or the lxd one, and what closes it.
//
// Deps.Holder stays nil: the hold step's Placement.Held reaches every proxy
// through the placement stream (watch.go), whichever monitor serves it.
func (c *Controller) migrator() (recover.Migrator, func()) {
	if c.opts.Migrator != nil {
		return c.opts.Migrator, func() {}
	}
	m := newLXDMigrator(c)
	return m, m.close
}
