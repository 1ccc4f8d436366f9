package monitor

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/understudy/understudy/ha"
	"github.com/understudy/understudy/internal/pki"
	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/recover/embedded"
	"github.com/understudy/understudy/recover/store"
)

// openStore opens the shared store and, unless Options.Store replaces it,
// the etcd client behind it; what must be closed is appended to closers.
func (c *Controller) openStore(ctx context.Context, inv *inventory.Inventory, closers *[]func()) error {
	if c.opts.Store != nil {
		c.store = c.opts.Store
		return nil
	}
	cli, closeCli, err := c.openEtcd(ctx, inv)
	if err != nil {
		return err
	}
	*closers = append(*closers, closeCli)
	c.etcd = cli
	c.etcdStore = store.NewEtcd(cli, "")
	c.store = c.etcdStore
	// Closed before the client: the store's one placement watch ends first.
	*closers = append(*closers, c.etcdStore.Close)
	return nil
}

// openEtcd connects to the etcd all monitors share: the client in Options,
// a member of an embedded peer cluster (Options.Peers, from --peers), the
// external cluster of monitor.etcd, or else an embedded single-node etcd
// under monitor.state-dir.
func (c *Controller) openEtcd(ctx context.Context, inv *inventory.Inventory) (*clientv3.Client, func(), error) {
	switch {
	case c.opts.Etcd != nil:
		return c.opts.Etcd, func() {}, nil
	case c.opts.Peers != nil:
		peer, err := ha.StartPeers(ctx, *c.opts.Peers)
		if err != nil {
			return nil, nil, fmt.Errorf("start etcd peer %q: %w", c.opts.Peers.Name, err)
		}
		c.log.Info("embedded etcd peer started", "name", c.opts.Peers.Name, "peers", len(c.opts.Peers.Peers))
		c.peer = peer
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
func (c *Controller) closeLogged(what string, err error) {
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

// openElector joins the election of the monitors sharing the etcd, under
// this monitor's name and API address; without etcd (Options.Store) there
// is no election and this monitor always leads.
func (c *Controller) openElector(ctx context.Context, listen net.Addr) (func(), error) {
	if c.etcd == nil {
		return func() {}, nil
	}
	el, err := ha.NewElector(ha.Config{
		Client: c.etcd, Name: c.name, Address: c.advertise(listen),
		TTL: c.opts.LeaseTTL, Logger: c.opts.Logger,
	})
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if n, err := el.ClearStale(sctx); err != nil {
		el.Close()
		return nil, fmt.Errorf("join the monitors' election: %w", err)
	} else if n > 0 {
		c.log.Info("cleared the candidacy of this monitor's previous run", "keys", n)
	}
	c.elector = el
	return func() { c.closeLogged("elector", el.Close()) }, nil
}

// advertise is the API address peers forward to: Options.Advertise, else
// the listener's address, with the host name for an unspecified IP.
func (c *Controller) advertise(listen net.Addr) string {
	if c.opts.Advertise != "" {
		return c.opts.Advertise
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
