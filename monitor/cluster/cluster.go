// Package cluster is how a monitor joins the others: the shared etcd (an
// embedded single node, the cluster of monitor.etcd, or a member of a
// static peer cluster across the monitors), the election under this
// monitor's name and advertised address (package ha), and the epoch a new
// term starts at (epoch.go). It does not lead or follow itself: package
// monitor's term does, with what this package opens.
package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/understudy/understudy/ha"
	"github.com/understudy/understudy/internal/pki"
	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/recover/embedded"
	"github.com/understudy/understudy/recover/store"
)

// Config is what Open needs.
type Config struct {
	// Inventory names the etcd: monitor.etcd, else an embedded one under
	// monitor.state-dir.
	Inventory *inventory.Inventory
	// Etcd replaces the inventory's etcd with a client to share (tests).
	Etcd *clientv3.Client
	// Peers starts an embedded member of a static peer cluster across the
	// monitors instead (understudy monitor --peers).
	Peers  *ha.PeersConfig
	Logger *slog.Logger
}

// Cluster is the etcd this monitor shares with the others: its client,
// the store over it, and with Config.Peers this monitor's own member.
type Cluster struct {
	Client *clientv3.Client
	Store  *store.Etcd
	// Peer is this monitor's etcd member (Config.Peers), else nil.
	Peer *ha.Peer

	cfg     Config
	log     *slog.Logger
	closers []func()
}

// Open connects to the shared etcd (see Config). Close releases it.
func Open(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Cluster{cfg: cfg, log: cfg.Logger.With("component", "controller")}
	cli, closeCli, err := c.openEtcd(ctx, cfg.Inventory)
	if err != nil {
		return nil, err
	}
	c.closers = append(c.closers, closeCli)
	c.Client = cli
	c.Store = store.NewEtcd(cli, "")
	// Closed before the client: the store's one placement watch ends first.
	c.closers = append(c.closers, c.Store.Close)
	return c, nil
}

// Close closes the store, then the client and any embedded member.
func (c *Cluster) Close() {
	for i := len(c.closers) - 1; i >= 0; i-- {
		c.closers[i]()
	}
	c.closers = nil
}

// openEtcd connects to the etcd all monitors share: the client in Config,
// a member of an embedded peer cluster (Config.Peers, from --peers), the
// external cluster of monitor.etcd, or else an embedded single-node etcd
// under monitor.state-dir.
func (c *Cluster) openEtcd(ctx context.Context, inv *inventory.Inventory) (*clientv3.Client, func(), error) {
	switch {
	case c.cfg.Etcd != nil:
		return c.cfg.Etcd, func() {}, nil
	case c.cfg.Peers != nil:
		peer, err := ha.StartPeers(ctx, *c.cfg.Peers)
		if err != nil {
			return nil, nil, fmt.Errorf("start etcd peer %q: %w", c.cfg.Peers.Name, err)
		}
		c.log.Info("embedded etcd peer started", "name", c.cfg.Peers.Name, "peers", len(c.cfg.Peers.Peers))
		c.Peer = peer
		return peer.Client, func() { c.closeLogged("etcd peer", peer.Close()) }, nil
	case inv.Monitor.Etcd != nil:
		return externalEtcd(inv.Monitor.Etcd)
	}
	dir := filepath.Join(inv.Monitor.StateDir, "etcd")
	emb, err := embedded.Start(ctx, embedded.Config{Dir: dir})
	if err != nil {
		return nil, nil, err
	}
	c.log.Info("embedded etcd started", "dir", dir)
	return emb.Client, func() { c.closeLogged("embedded etcd", emb.Close()) }, nil
}

// closeLogged logs a failed close, unless it only reports the cancellation.
func (c *Cluster) closeLogged(what string, err error) {
	if err != nil && !errors.Is(err, context.Canceled) {
		c.log.Warn("close "+what, "err", err)
	}
}

// externalEtcd connects to the cluster of monitor.etcd.
func externalEtcd(e *inventory.Etcd) (*clientv3.Client, func(), error) {
	// No Context: the client must outlive Run's context, because closing
	// the election session on a clean stop revokes the lease through it
	// (another monitor then leads at once). Closing the client ends it.
	cfg := clientv3.Config{Endpoints: e.Endpoints, DialTimeout: 5 * time.Second}
	if !e.TLS.IsZero() {
		tlsCfg, err := etcdTLS(e.TLS)
		if err != nil {
			return nil, nil, err
		}
		cfg.TLS = tlsCfg
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to etcd %v: %w", e.Endpoints, err)
	}
	return cli, func() { cli.Close() }, nil
}

// Elector joins the election of the monitors sharing the etcd, under
// name and the API address the others forward to; a candidacy a previous
// run left under the same name is deleted first, so a restarted monitor
// need not wait out that run's lease. The returned function closes it.
func (c *Cluster) Elector(ctx context.Context, name, address string, ttl time.Duration) (*ha.Elector, func(), error) {
	el, err := ha.NewElector(ha.Config{
		Client: c.Client, Name: name, Address: address,
		TTL: ttl, Logger: c.cfg.Logger,
	})
	if err != nil {
		return nil, nil, err
	}
	n, err := c.clearStale(ctx, el)
	if err != nil {
		el.Close()
		return nil, nil, fmt.Errorf("join the monitors' election: %w", err)
	}
	if n > 0 {
		c.log.Info("cleared the candidacy of this monitor's previous run", "keys", n)
	}
	return el, func() { c.closeLogged("elector", el.Close()) }, nil
}

// clearStaleBound bounds the retries of clearStale: an etcd cluster that
// is still electing its first leader (three monitors starting together,
// embedded peers) answers "leader changed" or times out for a while.
const clearStaleBound = 30 * time.Second

// electing reports whether err is etcd still electing its leader, or an
// attempt that timed out meanwhile: worth another try. Anything else (a
// refused login, say) is returned at once.
func electing(err error) bool {
	return errors.Is(err, rpctypes.ErrLeaderChanged) || errors.Is(err, rpctypes.ErrNoLeader) ||
		errors.Is(err, rpctypes.ErrTimeout) || errors.Is(err, context.DeadlineExceeded)
}

// clearStale runs el.ClearStale until it succeeds, retrying the errors of
// an election in progress (from 200 ms, doubling up to 2 s) for
// clearStaleBound; each attempt has 5 s.
func (c *Cluster) clearStale(ctx context.Context, el *ha.Elector) (int, error) {
	bctx, cancel := context.WithTimeout(ctx, clearStaleBound)
	defer cancel()
	pause := 200 * time.Millisecond
	for {
		actx, acancel := context.WithTimeout(bctx, 5*time.Second)
		n, err := el.ClearStale(actx)
		acancel()
		if err == nil {
			return n, nil
		}
		if !electing(err) {
			return 0, err
		}
		c.log.Warn("etcd not ready for the election yet; retrying", "err", err, "in", pause)
		t := time.NewTimer(pause)
		select {
		case <-bctx.Done():
			t.Stop()
			return 0, err
		case <-t.C:
		}
		pause = min(2*pause, 2*time.Second)
	}
}

// Advertise is the API address peers forward to: override if set, else
// the listener's address, with the host name for an unspecified IP.
func Advertise(override string, listen net.Addr) string {
	if override != "" {
		return override
	}
	tcp, ok := listen.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return listen.String()
	}
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	return net.JoinHostPort(host, strconv.Itoa(tcp.Port))
}

// etcdTLS is the client TLS configuration for an external etcd.
func etcdTLS(f inventory.TLSFiles) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.CA != "" {
		pool, err := pki.LoadPool(f.CA)
		if err != nil {
			return nil, fmt.Errorf("monitor.etcd.tls.ca: %w", err)
		}
		cfg.RootCAs = pool
	}
	if f.Cert != "" {
		pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return nil, fmt.Errorf("monitor.etcd.tls cert and key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}
