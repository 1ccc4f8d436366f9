package monitor

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/lxd"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/executor"
)

var (
	_ executor.Migrator = (*lxdMigrator)(nil)
)

// SparePool is the address range a spare's copies get their static
// address from (environment.IPADDR and environment.GATEWAY, as the standby
// agent's pool does on the standby VM): spares[].network of the inventory,
// or Options.SparePools. A spare with neither gets no static address: its
// copies have both keys removed and take the address the spare's network
// gives them (an Incus bridge's DHCP), as a standby agent without a
// network does.
type SparePool struct {
	First, Last netip.Addr // inclusive range
	Gateway     netip.Addr
	PrefixLen   int
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

// Copy implements executor.Migrator.
func (m *lxdMigrator) Copy(ctx context.Context, svc recover.Service, _, to string) (netip.Addr, error) {
	src, err := m.standbyClient(ctx, svc.Standby)
	if err != nil {
		return netip.Addr{}, err
	}
	dst, err := m.spareClient(ctx, to)
	if err != nil {
		return netip.Addr{}, err
	}
	if st, err := dst.State(ctx, svc.Name); err == nil { // a re-run: the copy is there
		if !st.Running {
			if err := retryBusy(ctx, func() error { return dst.Start(ctx, svc.Name) }); err != nil {
				return netip.Addr{}, err
			}
		}
		return dst.WaitIPv4(ctx, svc.Name, "eth0")
	}
	cfg, release, err := m.addressConfig(to, svc.Name)
	if err != nil {
		return netip.Addr{}, err
	}
	defer release()
	// migration.bandwidth: a capped copy is relayed through this process.
	bw := m.c.plan().Inv.Migration.Bandwidth
	start := time.Now()
	err = retryBusy(ctx, func() error {
		return src.Copy(ctx, dst, svc.Name, lxd.CopyOptions{Start: true, Config: cfg, Bandwidth: bw})
	})
	if errors.Is(err, lxd.ErrAlreadyExists) {
		err = retryBusy(ctx, func() error { return dst.Start(ctx, svc.Name) })
	}
	if err != nil {
		return netip.Addr{}, err
	}
	m.c.log.Info("container copied to spare", "service", svc.Name, "spare", to, "static_address", cfg["environment.IPADDR"],
		"took", time.Since(start), "bandwidth_bytes_per_second", bw)
	return dst.WaitIPv4(ctx, svc.Name, "eth0")
}

// DeleteCopy implements executor.Migrator.
func (m *lxdMigrator) DeleteCopy(ctx context.Context, svc recover.Service, on string) error {
	dst, err := m.spareClient(ctx, on)
	if err != nil {
		return err
	}
	return retryBusy(ctx, func() error { return dst.Delete(ctx, svc.Name) })
}

// addressConfig is the config that gives service's copy on spare its
// address: a static one reserved from the spare's pool (release gives it
// back once the copy is recorded), or, for a spare without a pool, the
// removal of the static keys the standby's container carries, so the copy
// takes what the spare's network gives it.
func (m *lxdMigrator) addressConfig(spare, service string) (cfg map[string]string, release func(), err error) {
	pool, ok := m.c.sparePool(spare)
	if !ok {
		return map[string]string{"environment.IPADDR": "", "environment.GATEWAY": ""}, func() {}, nil
	}
	addr, release, err := m.reserve(spare, service, pool)
	if err != nil {
		return nil, nil, err
	}
	return map[string]string{
		"environment.IPADDR":  fmt.Sprintf("%s/%d", addr, pool.PrefixLen),
		"environment.GATEWAY": pool.Gateway.String(),
	}, release, nil
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
	if sb := m.c.plan().Inv.StandbyVM(name); !ok && sb != nil && sb.Incus != (inventory.Incus{}) {
		in, ok = sb.Incus, true
	}
	if !ok {
		return nil, fmt.Errorf("copy from standby %q: its Incus is unknown (set standby[].incus in the inventory): %w", name, recover.ErrPermanent)
	}
	return m.client(ctx, "standby/"+name, name, in)
}

// spareClient connects to a spare's LXD/Incus (spares[].incus).
func (m *lxdMigrator) spareClient(ctx context.Context, name string) (*lxd.Client, error) {
	sp := m.c.plan().Inv.Spare(name)
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

// retryBusy retries fn while LXD answers that the instance is busy
// (lxd.ErrBusy: the standby agent adjusts live limits of active
// containers), at most 20 times.
func retryBusy(ctx context.Context, fn func() error) error {
	var err error
	for range 20 {
		if err = fn(); err == nil || !errors.Is(err, lxd.ErrBusy) {
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

// sparePool is the address pool of a spare's copies; false when the spare
// has none (Options.SparePools and spares[].network both unset).
func (c *Controller) sparePool(spare string) (SparePool, bool) {
	if p, ok := c.opts.SparePools[spare]; ok {
		return p, true
	}
	if sp := c.plan().Inv.Spare(spare); sp != nil && sp.Network != nil {
		// Validated with the inventory: the parse cannot fail here.
		first, last, _ := inventory.ParsePool(sp.Network.Pool)
		gw, _ := netip.ParseAddr(sp.Network.Gateway)
		return SparePool{First: first, Last: last, Gateway: gw, PrefixLen: sp.Network.PrefixLen}, true
	}
	return SparePool{}, false
}

// migrator returns the Migrator of Options or the lxd one, and what closes it.
//
// Deps.Holder stays nil: the hold step's Placement.Held reaches every proxy
// through the placement stream (watch.go), whichever monitor serves it.
func (c *Controller) migrator() (executor.Migrator, func()) {
	if c.opts.Migrator != nil {
		return c.opts.Migrator, func() {}
	}
	m := newLXDMigrator(c)
	return m, m.close
}
