package ha

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/understudy/understudy/internal/freeport"
	"github.com/understudy/understudy/recover/store"
)

// cluster is a test's view of one real 3-member etcd cluster, shared by
// the package's tests (started on first use, on free loopback ports, and
// stopped by TestMain). Each test keeps its keys under its own prefix.
type cluster struct {
	t      *testing.T
	peers  []*Peer
	prefix string // this test's key prefix, ending in "/"
}

var shared struct {
	once  sync.Once
	dir   string
	peers []*Peer
	err   error
	views atomic.Int64
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, p := range shared.peers {
		if p != nil {
			p.Close()
		}
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	shared.once.Do(func() { shared.dir, shared.peers, shared.err = startPeers() })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	n := shared.views.Add(1) // unique across -count runs of one test
	return &cluster{t: t, peers: shared.peers, prefix: fmt.Sprintf("/t/%s/%d/", t.Name(), n)}
}

// startPeers starts three members under a new temporary directory.
func startPeers() (string, []*Peer, error) {
	dir, err := os.MkdirTemp("", "ha-test-")
	if err != nil {
		return "", nil, err
	}
	urls := map[string]string{}
	for i := range 3 {
		u, err := freeport.URL("")
		if err != nil {
			return dir, nil, err
		}
		urls[fmt.Sprintf("m%d", i)] = u.String()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	peers := make([]*Peer, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			name := fmt.Sprintf("m%d", i)
			peers[i], errs[i] = StartPeers(ctx, PeersConfig{Name: name, Dir: filepath.Join(dir, name), Peers: urls})
		})
	}
	wg.Wait()
	return dir, peers, errors.Join(errs...)
}

// store returns recover's store under this test's prefix.
func (c *cluster) store(cli *clientv3.Client) *store.Etcd {
	return store.NewEtcd(cli, c.prefix)
}

// client returns a network client that talks to member i only.
func (c *cluster) client(i int) *clientv3.Client {
	c.t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{c.peers[i].ClientURL}, DialTimeout: 5 * time.Second})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { cli.Close() })
	return cli
}

// elector returns monitor i's Elector over a client of member i.
func (c *cluster) elector(i int, ttl time.Duration) (*Elector, *clientv3.Client) {
	c.t.Helper()
	cli := c.client(i)
	e, err := NewElector(Config{Client: cli, Name: fmt.Sprintf("mon%d", i), Address: fmt.Sprintf("127.0.0.1:90%02d", i), TTL: ttl, Prefix: c.prefix + "leader"})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { e.Close() })
	return e, cli
}

// won is a Campaign's outcome.
type won struct {
	who  int
	lead *Leadership
	err  error
	at   time.Time
}

// campaign runs e.Campaign in a goroutine the test owns (ctx ends it).
func campaign(ctx context.Context, t *testing.T, who int, e *Elector, out chan<- won) {
	var wg sync.WaitGroup
	wg.Go(func() {
		l, err := e.Campaign(ctx)
		out <- won{who: who, lead: l, err: err, at: time.Now()}
	})
	t.Cleanup(wg.Wait)
}

// waitDone waits for a leadership's end, at most d.
func waitDone(t *testing.T, l *Leadership, d time.Duration) {
	t.Helper()
	select {
	case <-l.Done():
	case <-time.After(d):
		t.Fatalf("leadership %s still holds after %s", l.Key, d)
	}
}
