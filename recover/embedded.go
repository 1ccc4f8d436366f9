package recover

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"

	"github.com/understudy/understudy/internal/etcdlog"
	"github.com/understudy/understudy/internal/freeport"
)

// Embedded is a single-node etcd running inside the monitor process, with
// an in-process client.
type Embedded struct {
	etcd *embed.Etcd
	// Client talks to the embedded server without the network.
	Client *clientv3.Client
}

// EmbeddedConfig configures StartEmbedded.
type EmbeddedConfig struct {
	Dir       string // data directory (created); e.g. <monitor.state-dir>/etcd
	ClientURL string // default: a free port on 127.0.0.1
	PeerURL   string // default: a free port on 127.0.0.1
	LogLevel  string // etcd's zap level: debug, info, warn, error (default error)
	// StartTimeout bounds the wait for readiness (default 30s; ~0.4s is usual).
	StartTimeout time.Duration
}

// StartEmbedded starts a single-node etcd under cfg.Dir and waits until it
// serves. Close stops it.
func StartEmbedded(ctx context.Context, cfg EmbeddedConfig) (*Embedded, error) {
	if cfg.Dir == "" {
		return nil, errors.New("start embedded etcd: no data directory")
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("start embedded etcd: %w", err)
	}
	ec := embed.NewConfig()
	ec.Name = "understudy"
	ec.Dir = filepath.Join(cfg.Dir, "data")
	if err := etcdlog.Use(ec, cfg.LogLevel); err != nil {
		return nil, fmt.Errorf("start embedded etcd: %w", err)
	}
	client, err := freeport.URL(cfg.ClientURL)
	if err != nil {
		return nil, fmt.Errorf("start embedded etcd: client URL: %w", err)
	}
	peer, err := freeport.URL(cfg.PeerURL)
	if err != nil {
		return nil, fmt.Errorf("start embedded etcd: peer URL: %w", err)
	}
	ec.ListenClientUrls, ec.AdvertiseClientUrls = []url.URL{*client}, []url.URL{*client}
	ec.ListenPeerUrls, ec.AdvertisePeerUrls = []url.URL{*peer}, []url.URL{*peer}
	ec.InitialCluster = ec.InitialClusterFromName(ec.Name)
	e, err := embed.StartEtcd(ec)
	if err != nil {
		return nil, fmt.Errorf("start embedded etcd in %s: %w", cfg.Dir, err)
	}
	timeout := cfg.StartTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("start embedded etcd in %s: %w", cfg.Dir, err)
	case <-time.After(timeout):
		e.Close()
		return nil, fmt.Errorf("start embedded etcd in %s: not ready after %s", cfg.Dir, timeout)
	case <-ctx.Done():
		e.Close()
		return nil, fmt.Errorf("start embedded etcd in %s: %w", cfg.Dir, ctx.Err())
	}
	return &Embedded{etcd: e, Client: v3client.New(e.Server)}, nil
}

// Close stops the client and the server.
func (e *Embedded) Close() error {
	err := e.Client.Close()
	e.etcd.Close()
	return err
}
