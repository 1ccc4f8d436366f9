// Package migrate is the monitor daemon's executor.Migrator: it copies a
// service's container from its standby VM's Incus/LXD to a spare's with
// stop-copy-start (lxd.Client.Copy with Start, never Move, so the standby
// slot stays for reset-standby), or live (CRIU) under migration.live auto
// when both ends' agents report CRIU available (livecopy.go), giving the
// copy a static address from the spare's pool, and deletes copies. The
// executor (recover/executor) decides when; this package only performs the
// copy.
//
// It sees the daemon through Config: the inventory in force, the
// executor's records (which addresses the spare's services hold) and the
// agents' CRIU status.
package migrate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/lxd"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/executor"
)

var (
	_ executor.Migrator      = (*LXD)(nil)
	_ executor.NotedMigrator = (*LXD)(nil)
)

// SparePool is the address range a spare's copies get their static
// address from (environment.IPADDR and environment.GATEWAY, as the standby
// agent's pool does on the standby VM): spares[].network of the inventory,
// or Config.SparePools. A spare with neither gets no static address: its
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

// LXD copies a service's container from its standby VM's LXD/Incus
// to a spare's with stop-copy-start (lxd.Client.Copy with Start, never
// Move: the standby slot must remain for reset-standby).
type LXD struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	clients  map[string]*lxd.Client           // by "standby/NAME" or "spare/NAME" and the connection settings
	reserved map[string]map[netip.Addr]string // spare -> address -> service, copies in flight
}

// Config is what New needs.
type Config struct {
	// Inventory returns the inventory in force.
	Inventory func() *inventory.Inventory
	// Records returns the executor's records.
	Records func() []recover.Record
	// StandbyIncus overrides, by standby name, how to reach a standby VM's
	// Incus/LXD (by default standby[].incus).
	StandbyIncus map[string]inventory.Incus
	// SparePools override, by spare name, the spares' address pools (by
	// default spares[].network).
	SparePools map[string]SparePool
	// StandbyCRIU and SpareCRIU read a standby's and a spare's agent's
	// CRIU status for migration.live auto (livecopy.go); nil: the copy is
	// stop-copy-start, and its note says the status is unknown.
	StandbyCRIU, SpareCRIU CRIUStatus
	// Limiter returns the bandwidth cap the copies share with the content
	// syncs (at migration.bandwidth); nil: each copy gets a cap of its own
	// at migration.bandwidth.
	Limiter func() *lxd.Limiter
	Logger  *slog.Logger
}

// New returns the migrator of cfg; Close closes its clients.
func New(cfg Config) *LXD {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &LXD{cfg: cfg, log: cfg.Logger.With("component", "controller"), clients: map[string]*lxd.Client{}, reserved: map[string]map[netip.Addr]string{}}
}

// Copy implements executor.Migrator.
func (m *LXD) Copy(ctx context.Context, svc recover.Service, from, to string) (netip.Addr, error) {
	addr, _, err := m.CopyNoted(ctx, svc, from, to)
	return addr, err
}

// CopyNoted implements executor.NotedMigrator: Copy, and how the copy was
// made (live or stop-copy-start, and why: livecopy.go).
func (m *LXD) CopyNoted(ctx context.Context, svc recover.Service, _, to string) (netip.Addr, string, error) {
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
	cfg, release, err := m.AddressConfig(to, svc.Name)
	if err != nil {
		return netip.Addr{}, "", err
	}
	defer release()
	// migration.bandwidth: a capped copy is relayed through this process.
	bw := m.cfg.Inventory().Migration.Bandwidth
	var lim *lxd.Limiter
	if m.cfg.Limiter != nil {
		lim = m.cfg.Limiter()
	}
	start := time.Now()
	live, whyNot := m.liveFor(ctx, svc.Standby, to)
	note, err := copyLiveOrCold(ctx, live, whyNot, func(ctx context.Context, live bool) error {
		if live { // liveFor saw both agents' CRIU work
			src.SetStateful(true)
			dst.SetStateful(true)
		}
		err := retryBusy(ctx, func() error {
			// A live copy arrives running; a cold one is started.
			return src.Copy(ctx, dst, svc.Name, lxd.CopyOptions{Start: !live, Live: live, Config: cfg, Bandwidth: bw, Limiter: lim})
		})
		if errors.Is(err, lxd.ErrAlreadyExists) {
			err = retryBusy(ctx, func() error { return dst.Start(ctx, svc.Name) })
		}
		return err
	})
	if err != nil {
		return netip.Addr{}, "", err
	}
	m.log.Info("container copied to spare", "service", svc.Name, "spare", to, "static_address", cfg["environment.IPADDR"],
		"took", time.Since(start), "bandwidth_bytes_per_second", bw, "how", note)
	got, err := dst.WaitIPv4(ctx, svc.Name, "eth0")
	return got, note, err
}

// DeleteCopy implements executor.Migrator.
func (m *LXD) DeleteCopy(ctx context.Context, svc recover.Service, on string) error {
	dst, err := m.spareClient(ctx, on)
	if err != nil {
		return err
	}
	return retryBusy(ctx, func() error { return dst.Delete(ctx, svc.Name) })
}

// AddressConfig is the config that gives service's copy on spare its
// address: a static one reserved from the spare's pool (release gives it
// back once the copy is recorded), or, for a spare without a pool, the
// removal of the static keys the standby's container carries, so the copy
// takes what the spare's network gives it.
func (m *LXD) AddressConfig(spare, service string) (cfg map[string]string, release func(), err error) {
	pool, ok := m.Pool(spare)
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
func (m *LXD) reserve(spare, service string, pool SparePool) (netip.Addr, func(), error) {
	used := map[netip.Addr]bool{}
	for _, r := range m.cfg.Records() {
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

// standbyClient connects to a standby VM's LXD/Incus (Config.StandbyIncus).
func (m *LXD) standbyClient(ctx context.Context, name string) (*lxd.Client, error) {
	in, ok := m.cfg.StandbyIncus[name]
	if sb := m.cfg.Inventory().StandbyVM(name); !ok && sb != nil && sb.Incus != (inventory.Incus{}) {
		in, ok = sb.Incus, true
	}
	if !ok {
		return nil, fmt.Errorf("copy from standby %q: its Incus is unknown (set standby[].incus in the inventory): %w", name, recover.ErrPermanent)
	}
	return m.client(ctx, "standby/"+name, name, in)
}

// spareClient connects to a spare's LXD/Incus (spares[].incus).
func (m *LXD) spareClient(ctx context.Context, name string) (*lxd.Client, error) {
	sp := m.cfg.Inventory().Spare(name)
	if sp == nil {
		return nil, fmt.Errorf("spare %q is not in the inventory: %w", name, recover.ErrPermanent)
	}
	return m.client(ctx, "spare/"+name, name, sp.Incus)
}

// client returns the client of one daemon, connecting on first use. The
// cache key includes the connection settings, so a reload that changes them
// connects anew.
func (m *LXD) client(ctx context.Context, what, name string, in inventory.Incus) (*lxd.Client, error) {
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

// Close closes every client.
func (m *LXD) Close() {
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

// Pool is the address pool of a spare's copies; false when the spare
// has none (Config.SparePools and spares[].network both unset).
func (m *LXD) Pool(spare string) (SparePool, bool) {
	if p, ok := m.cfg.SparePools[spare]; ok {
		return p, true
	}
	if sp := m.cfg.Inventory().Spare(spare); sp != nil && sp.Network != nil {
		// Validated with the inventory: the parse cannot fail here.
		first, last, _ := inventory.ParsePool(sp.Network.Pool)
		gw, _ := netip.ParseAddr(sp.Network.Gateway)
		return SparePool{First: first, Last: last, Gateway: gw, PrefixLen: sp.Network.PrefixLen}, true
	}
	return SparePool{}, false
}

// StandbyClient is the client of standby VM sb's Incus/LXD
// (Config.StandbyIncus or standby[].incus): a whole-instance sync refreshes
// and swaps the standby container through it (package monitor/contentsync).
func (m *LXD) StandbyClient(ctx context.Context, sb string) (*lxd.Client, error) {
	return m.standbyClient(ctx, sb)
}

// StandbyFiles opens the file system of instance name on standby VM sb
// (Config.StandbyIncus or standby[].incus): the content sync writes the
// standby container through it (package monitor/contentsync).
func (m *LXD) StandbyFiles(ctx context.Context, sb, name string) (*lxd.Files, error) {
	cl, err := m.standbyClient(ctx, sb)
	if err != nil {
		return nil, err
	}
	return cl.Files(ctx, name)
}
