package ha

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/freeport"
	"github.com/understudy/understudy/internal/pki"
)

// TestStartPeersRefuses covers the configurations StartPeers refuses
// before starting anything.
func TestStartPeersRefuses(t *testing.T) {
	three := map[string]string{"a": "http://127.0.0.1:1", "b": "http://127.0.0.1:2", "c": "http://127.0.0.1:3"}
	tests := []struct {
		name string
		cfg  PeersConfig
		is   error
	}{
		{"two peers", PeersConfig{Name: "a", Dir: t.TempDir(), Peers: map[string]string{"a": "http://127.0.0.1:1", "b": "http://127.0.0.1:2"}}, ErrTooFewPeers},
		{"one peer", PeersConfig{Name: "a", Dir: t.TempDir(), Peers: map[string]string{"a": "http://127.0.0.1:1"}}, ErrTooFewPeers},
		{"not a member", PeersConfig{Name: "d", Dir: t.TempDir(), Peers: three}, nil},
		{"no directory", PeersConfig{Name: "a", Peers: three}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := StartPeers(context.Background(), tc.cfg)
			if err == nil {
				p.Close()
				t.Fatal("started; want an error")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("err %v, want %v", err, tc.is)
			}
		})
	}
}

// TestStartPeersWaitsForQuorum: one member of three alone has no quorum,
// so StartPeers does not return ready.
func TestStartPeersWaitsForQuorum(t *testing.T) {
	urls := map[string]string{}
	for _, n := range []string{"a", "b", "c"} {
		u, err := freeport.URL("")
		if err != nil {
			t.Fatal(err)
		}
		urls[n] = u.String()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	p, err := StartPeers(ctx, PeersConfig{Name: "a", Dir: t.TempDir(), Peers: urls})
	if err == nil {
		p.Close()
		t.Fatal("a lone member reported ready")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the context's deadline", err)
	}
}

// TestShedRaftLeadership: the raft leader hands its leadership to another
// member; any other member has none to hand.
func TestShedRaftLeadership(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	leader := -1
	for i, p := range c.peers {
		if p.RaftLeader() {
			leader = i
		}
	}
	if leader < 0 {
		t.Fatal("no member is the raft leader")
	}
	other := (leader + 1) % len(c.peers)
	if moved, err := c.peers[other].ShedRaftLeadership(ctx); moved || err != nil {
		t.Errorf("a follower shed: moved %v, %v; want nothing to do", moved, err)
	}
	moved, err := c.peers[leader].ShedRaftLeadership(ctx)
	if !moved || err != nil {
		t.Fatalf("the raft leader shed: moved %v, %v", moved, err)
	}
	if c.peers[leader].RaftLeader() {
		t.Error("still the raft leader after shedding")
	}
	// The cluster still serves.
	if _, err := c.peers[leader].Client.Put(ctx, c.prefix+"after-shed", "ok"); err != nil {
		t.Errorf("put after the transfer: %v", err)
	}
}

// TestStartPeersOverTLS starts three members whose traffic is mutual TLS
// with one certificate of both usages, as `understudy monitor --peers` does
// with monitor.api-tls, and checks a write through one member is read
// through another. Plain peer URLs are refused with PeerTLS.
func TestStartPeersOverTLS(t *testing.T) {
	dir := t.TempDir()
	if err := pki.Init(dir); err != nil {
		t.Fatal(err)
	}
	cert, key, err := pki.IssueWith(dir, dir, pki.IssueRequest{Name: "peer", Server: true, AlsoClient: true, Hosts: []string{"127.0.0.1"}}, pki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tlsFiles := &PeerTLS{CA: filepath.Join(dir, pki.CACertFile), Cert: cert, Key: key}
	urls := map[string]string{}
	for _, n := range []string{"a", "b", "c"} {
		u, err := freeport.URL("")
		if err != nil {
			t.Fatal(err)
		}
		urls[n] = "https://" + u.Host
	}
	plain := map[string]string{"a": "http://127.0.0.1:1", "b": "http://127.0.0.1:2", "c": "http://127.0.0.1:3"}
	if _, err := StartPeers(context.Background(), PeersConfig{Name: "a", Dir: t.TempDir(), Peers: plain, PeerTLS: tlsFiles}); err == nil || !strings.Contains(err.Error(), "want an https:// URL") {
		t.Errorf("plain peer URLs with PeerTLS: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	peers := make([]*Peer, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i, n := range []string{"a", "b", "c"} {
		wg.Go(func() {
			peers[i], errs[i] = StartPeers(ctx, PeersConfig{Name: n, Dir: filepath.Join(t.TempDir(), n), Peers: urls, PeerTLS: tlsFiles})
		})
	}
	wg.Wait()
	for i, p := range peers {
		if p != nil {
			t.Cleanup(func() { p.Close() })
		}
		if errs[i] != nil {
			t.Fatalf("member %d over TLS: %v", i, errs[i])
		}
	}
	if _, err := peers[0].Client.Put(ctx, "/t/tls", "ok"); err != nil {
		t.Fatal(err)
	}
	resp, err := peers[2].Client.Get(ctx, "/t/tls")
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "ok" {
		t.Fatalf("read through another member: %v %v", resp, err)
	}

	// The peer port takes the peers' certificate, and no other of the same
	// CA (an API client's, say): its common name is not the peers'.
	intruderCert, intruderKey, err := pki.IssueWith(dir, dir, pki.IssueRequest{Name: "operator", Server: true, AlsoClient: true, Hosts: []string{"127.0.0.1"}}, pki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cert, key string
		ok        bool
	}{{cert, key, true}, {intruderCert, intruderKey, false}} {
		if err := getPeer(ctx, urls["a"]+"/members", filepath.Join(dir, pki.CACertFile), tc.cert, tc.key); (err == nil) != tc.ok {
			t.Errorf("GET /members on a peer port with %s: %v, want ok=%v", filepath.Base(tc.cert), err, tc.ok)
		}
	}
}

// getPeer GETs url with a client certificate and fails unless it answers 200.
func getPeer(ctx context.Context, url, ca, cert, key string) error {
	pool, err := pki.LoadPool(ca)
	if err != nil {
		return err
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return err
	}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}}}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s", resp.Status)
	}
	return nil
}
