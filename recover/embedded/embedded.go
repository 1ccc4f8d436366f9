package embedded

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"

	"github.com/understudy/understudy/internal/etcdembed"
)

// Server is a single-node etcd running inside the monitor process, with
// an in-process client. Other clients (etcdctl) reach it only through the
// unix socket ClientURL, mode 0600 in a 0700 directory; its peer endpoint
// (etcd's /raft, /members, /leases) is a unix socket in the same directory.
// It serves no TCP port. It compacts its history and defragments at start (see
// package internal/etcdembed).
type Server struct {
	etcd *embed.Etcd
	// Client talks to the embedded server without the network.
	Client *clientv3.Client
	// ClientURL is the server's unix socket (unix:///.../etcd.sock).
	ClientURL string
}

// PeerSocketName is the single node's peer socket inside its data
// directory.
const PeerSocketName = "peer.sock"

// Config configures Start.
type Config struct {
	Dir      string // data directory (created, mode 0700); e.g. <monitor.state-dir>/etcd
	LogLevel string // etcd's zap level: debug, info, warn, error (default error)
	// Retention is the history auto-compaction keeps (default
	// etcdembed.DefaultRetention).
	Retention time.Duration
	// StartTimeout bounds the wait for readiness (default 30s; ~0.4s is usual).
	StartTimeout time.Duration
}

// Start starts a single-node etcd under cfg.Dir and waits until it
// serves. Close stops it.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	ec, err := etcdembed.NewConfig(etcdembed.Settings{Name: "understudy", Dir: cfg.Dir, LogLevel: cfg.LogLevel, Retention: cfg.Retention})
	if err != nil {
		return nil, fmt.Errorf("start embedded etcd: %w", err)
	}
	// A single node talks to no peer, yet etcd always serves its peer mux
	// (raft, members, leases): on a socket in the 0700 directory, no local
	// user can reach it. etcd listens on a unix peer URL's host, so the
	// path goes there; the advertised URL only names it (see NewConfig).
	sock := filepath.Join(filepath.Dir(ec.Dir), PeerSocketName)
	ec.ListenPeerUrls = []url.URL{{Scheme: "unix", Host: sock}}
	ec.AdvertisePeerUrls = []url.URL{{Scheme: "unix", Host: "localhost:0", Path: sock}}
	ec.InitialCluster = ec.InitialClusterFromName(ec.Name)
	timeout := cfg.StartTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	e, err := etcdembed.Start(ctx, ec, timeout)
	if err != nil {
		return nil, fmt.Errorf("start embedded etcd in %s: %w", cfg.Dir, err)
	}
	return &Server{etcd: e, Client: v3client.New(e.Server), ClientURL: ec.ListenClientUrls[0].String()}, nil
}

// Close stops the client and the server.
func (e *Server) Close() error {
	err := e.Client.Close()
	e.etcd.Close()
	return err
}
