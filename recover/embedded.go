package recover

import (
	"context"
	"fmt"
	"net/url"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"

	"github.com/understudy/understudy/internal/etcdembed"
	"github.com/understudy/understudy/internal/freeport"
)

// Embedded is a single-node etcd running inside the monitor process, with
// an in-process client. Other clients (etcdctl) reach it only through the
// unix socket ClientURL, mode 0600 in a 0700 directory; it serves no TCP
// client port. It compacts its history and defragments at start (see
// package internal/etcdembed).
type Embedded struct {
	etcd *embed.Etcd
	// Client talks to the embedded server without the network.
	Client *clientv3.Client
	// ClientURL is the server's unix socket (unix:///.../etcd.sock).
	ClientURL string
}

// EmbeddedConfig configures StartEmbedded.
type EmbeddedConfig struct {
	Dir      string // data directory (created, mode 0700); e.g. <monitor.state-dir>/etcd
	PeerURL  string // default: a free port on 127.0.0.1 (a single node talks to no peer)
	LogLevel string // etcd's zap level: debug, info, warn, error (default error)
	// Retention is the history auto-compaction keeps (default
	// etcdembed.DefaultRetention).
	Retention time.Duration
	// StartTimeout bounds the wait for readiness (default 30s; ~0.4s is usual).
	StartTimeout time.Duration
}

// StartEmbedded starts a single-node etcd under cfg.Dir and waits until it
// serves. Close stops it.
func StartEmbedded(ctx context.Context, cfg EmbeddedConfig) (*Embedded, error) {
	ec, err := etcdembed.NewConfig(etcdembed.Settings{Name: "understudy", Dir: cfg.Dir, LogLevel: cfg.LogLevel, Retention: cfg.Retention})
	if err != nil {
		return nil, fmt.Errorf("start embedded etcd: %w", err)
	}
	peer, err := freeport.URL(cfg.PeerURL)
	if err != nil {
		return nil, fmt.Errorf("start embedded etcd: peer URL: %w", err)
	}
	ec.ListenPeerUrls, ec.AdvertisePeerUrls = []url.URL{*peer}, []url.URL{*peer}
	ec.InitialCluster = ec.InitialClusterFromName(ec.Name)
	timeout := cfg.StartTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	e, err := etcdembed.Start(ctx, ec, timeout)
	if err != nil {
		return nil, fmt.Errorf("start embedded etcd in %s: %w", cfg.Dir, err)
	}
	return &Embedded{etcd: e, Client: v3client.New(e.Server), ClientURL: ec.ListenClientUrls[0].String()}, nil
}

// Close stops the client and the server.
func (e *Embedded) Close() error {
	err := e.Client.Close()
	e.etcd.Close()
	return err
}
