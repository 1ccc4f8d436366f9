package ha

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/freeport"
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
