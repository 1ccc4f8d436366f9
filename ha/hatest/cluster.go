// Package hatest starts a real three-member etcd cluster inside a test
// process (package ha's StartPeers, on free loopback ports, under the test's
// temporary directory); package internal/tcpcut cuts one client off its
// member as a network partition would.
//
// It is for tests only: nothing in it is tuned for production, the members
// talk plain HTTP to each other (clients reach them on unix sockets), and every resource is released by the test's Cleanup. It
// does not start monitors; tests hand the cluster's clients to
// monitor.Options.Etcd or ha.Config.Client themselves.
package hatest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/understudy/understudy/ha"
)

// Members is the size of the cluster Start builds: the smallest that
// tolerates the loss of one member.
const Members = 3

// startTimeout bounds the wait for the members to reach quorum; a loaded
// 2-core machine with the race detector needed up to ~6.5 s.
const startTimeout = 60 * time.Second

// Cluster is a running three-member embedded etcd cluster.
type Cluster struct {
	// Peers are the members, in the order of Names.
	Peers []*ha.Peer
	// Names are the members' names (m0, m1, m2).
	Names []string
}

// Start starts a three-member cluster under t.TempDir() on free loopback
// ports and stops it when the test ends. It fails the test when the
// members do not reach quorum within a minute.
func Start(t testing.TB) *Cluster {
	t.Helper()
	dir := t.TempDir()
	urls := map[string]string{}
	c := &Cluster{Peers: make([]*ha.Peer, Members)}
	for i := range Members {
		u, err := freeURL()
		if err != nil {
			t.Fatalf("etcd cluster: %v", err)
		}
		name := fmt.Sprintf("m%d", i)
		urls[name] = u
		c.Names = append(c.Names, name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	errs := make([]error, Members)
	var wg sync.WaitGroup
	for i, name := range c.Names {
		wg.Go(func() {
			c.Peers[i], errs[i] = ha.StartPeers(ctx, ha.PeersConfig{
				Name: name, Dir: filepath.Join(dir, name), Peers: urls, Token: "hatest",
			})
		})
	}
	wg.Wait()
	t.Cleanup(c.close)
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("start a %d-member etcd cluster: %v", Members, err)
	}
	return c
}

// close stops every member that started.
func (c *Cluster) close() {
	for _, p := range c.Peers {
		if p != nil {
			p.Close()
		}
	}
}

// Endpoints are the members' client URLs: their unix sockets
// (unix:///.../etcd.sock); internal/tcpcut proxies a loopback port to one.
func (c *Cluster) Endpoints() []string {
	out := make([]string, 0, len(c.Peers))
	for _, p := range c.Peers {
		out = append(out, p.ClientURL)
	}
	return out
}

// Client returns a network client of the given endpoints (every member's
// when none are given), closed when the test ends. A test may close it
// earlier, as a dying process would; closing twice is harmless.
func (c *Cluster) Client(t testing.TB, endpoints ...string) *clientv3.Client {
	t.Helper()
	if len(endpoints) == 0 {
		endpoints = c.Endpoints()
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("etcd client of %v: %v", endpoints, err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// freeURL returns http://127.0.0.1:PORT with a port that was free a moment
// ago (released before etcd binds it: a rare race).
func freeURL() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("pick a free port: %w", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return "", fmt.Errorf("pick a free port: %w", err)
	}
	return "http://" + addr, nil
}
