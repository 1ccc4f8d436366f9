// Package etcdembed is the one start of understudy's embedded etcd servers
// (embedded.Start for a single node, ha.StartPeers for a member of
// the monitors' own cluster). What they share is set here:
//
//   - the client endpoint is a unix socket, Dir/etcd.sock, with mode 0600
//     inside the data directory (mode 0700): only the monitor's own user
//     can reach it. The monitor itself needs no endpoint (its client is
//     in-process); the socket is for etcdctl and for tests. No TCP port
//     serves clients, so a local user cannot read or rewrite placements.
//     Peer endpoints are the callers': embedded.Start's single
//     node puts its peer mux on a unix socket in the same directory;
//     ha.StartPeers' members need TCP peer URLs (mutual TLS with PeerTLS).
//   - auto-compaction keeps Retention of history (default
//     DefaultRetention): every save rewrites a whole record, and without
//     compaction the history would reach etcd's quota, after which etcd
//     refuses every write;
//   - a defragmentation once the server is ready, which returns the space
//     compaction freed to the file system.
package etcdembed

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/server/v3/embed"

	"github.com/understudy/understudy/internal/etcdlog"
)

// DefaultRetention is how much history auto-compaction keeps.
const DefaultRetention = 10 * time.Minute

// SocketName is the client socket's file name inside the directory.
const SocketName = "etcd.sock"

// maxSocketPath is the longest path a unix socket may have on Linux.
const maxSocketPath = 107

// ErrNotReady: the server did not become ready within the start timeout.
var ErrNotReady = errors.New("etcd server not ready")

// Settings are what NewConfig needs.
type Settings struct {
	Name     string // the member's name
	Dir      string // created with mode 0700: data in Dir/data, the socket at Dir/etcd.sock
	LogLevel string // etcd's zap level (default etcdlog.DefaultLevel)
	// Retention is the history auto-compaction keeps (default
	// DefaultRetention).
	Retention time.Duration
}

// SocketURL is the client endpoint of the server under dir, as a clientv3
// endpoint (unix:///abs/path).
func SocketURL(dir string) string {
	return (&url.URL{Scheme: "unix", Path: filepath.Join(dir, SocketName)}).String()
}

// NewConfig creates s.Dir and returns the embed.Config every embedded
// server starts from: name, data directory, logger, the unix client
// socket and auto-compaction. Callers add their peer settings.
func NewConfig(s Settings) (*embed.Config, error) {
	if s.Dir == "" {
		return nil, errors.New("no data directory")
	}
	dir, err := filepath.Abs(s.Dir)
	if err != nil {
		return nil, fmt.Errorf("data directory %s: %w", s.Dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	// MkdirAll leaves an existing directory's mode alone.
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("restrict data directory: %w", err)
	}
	sock := filepath.Join(dir, SocketName)
	if len(sock) > maxSocketPath {
		return nil, fmt.Errorf("client socket %s: path longer than %d bytes; use a shorter state directory", sock, maxSocketPath)
	}
	ec := embed.NewConfig()
	ec.Name = s.Name
	ec.Dir = filepath.Join(dir, "data")
	if err := etcdlog.Use(ec, s.LogLevel); err != nil {
		return nil, err
	}
	u := url.URL{Scheme: "unix", Path: sock}
	// etcd wants host:port in an advertised URL; nothing dials the
	// advertised one (clients are given the socket), so it only names it.
	adv := url.URL{Scheme: "unix", Host: "localhost:0", Path: sock}
	ec.ListenClientUrls, ec.AdvertiseClientUrls = []url.URL{u}, []url.URL{adv}
	ret := s.Retention
	if ret <= 0 {
		ret = DefaultRetention
	}
	ec.AutoCompactionMode = embed.CompactorModePeriodic
	ec.AutoCompactionRetention = ret.String()
	return ec, nil
}

// Start starts ec and returns once it serves, within timeout (ErrNotReady
// after it) and ctx. It then restricts the client socket to mode 0600 and
// defragments the backend. A server that never became ready is stopped.
func Start(ctx context.Context, ec *embed.Config, timeout time.Duration) (*embed.Etcd, error) {
	e, err := embed.StartEtcd(ec)
	if err != nil {
		return nil, err
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		abort(e)
		return nil, err
	case <-t.C:
		abort(e)
		return nil, fmt.Errorf("%w after %s", ErrNotReady, timeout)
	case <-ctx.Done():
		abort(e)
		return nil, ctx.Err()
	}
	for _, u := range ec.ListenClientUrls {
		if err := os.Chmod(u.Path, 0o600); err != nil {
			e.Close()
			return nil, fmt.Errorf("restrict client socket: %w", err)
		}
	}
	if err := e.Server.Defragment(); err != nil {
		e.Close()
		return nil, fmt.Errorf("defragment: %w", err)
	}
	return e, nil
}

// abort stops a server that never became ready. The server is stopped
// first: embed.Etcd.Close alone waits for client servers that only start
// once the server is ready, so it would hang.
func abort(e *embed.Etcd) {
	e.Server.HardStop()
	e.Close()
}
