package ha

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestOneLeaderAmongThree: three monitors campaign at once; exactly one
// wins, and Leader names it.
func TestOneLeaderAmongThree(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	wins := make(chan won, 3)
	electors := make([]*Elector, 3)
	for i := range 3 {
		electors[i], _ = c.elector(i, 2*time.Second)
		campaign(ctx, t, i, electors[i], wins)
	}
	first := <-wins
	if first.err != nil {
		t.Fatal(first.err)
	}
	select {
	case w := <-wins:
		t.Fatalf("second leader: monitor %d (err %v) while monitor %d leads", w.who, w.err, first.who)
	case <-time.After(1500 * time.Millisecond):
	}
	got, err := electors[(first.who+1)%3].Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := electors[first.who].cfg; got.Name != want.Name || got.Address != want.Address || got.Rev != first.lead.Rev || got.Since.IsZero() {
		t.Fatalf("Leader() = %+v, want %s at %s since a time, rev %d", got, want.Name, want.Address, first.lead.Rev)
	}
	cancel() // the losers' campaigns end with ctx
	for range 2 {
		if w := <-wins; !errors.Is(w.err, context.Canceled) {
			t.Errorf("loser %d: err %v, want context.Canceled", w.who, w.err)
		}
	}
}

// TestTakeoverWhenLeaderDies kills the leader's connection to etcd (its
// process dies: the lease is not revoked); another monitor takes over once
// the lease expires, with a larger epoch. The takeover time is logged, not
// asserted (BenchmarkTakeover measures it).
func TestTakeoverWhenLeaderDies(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, acli := c.elector(0, DefaultTTL)
	la, err := a.Campaign(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wins := make(chan won, 2)
	for i := 1; i < 3; i++ {
		e, _ := c.elector(i, DefaultTTL)
		campaign(ctx, t, i, e, wins)
	}
	time.Sleep(300 * time.Millisecond) // both candidates wait behind the leader
	killed := time.Now()
	acli.Close()
	waitDone(t, la, 10*time.Second)
	w := <-wins
	if w.err != nil {
		t.Fatal(w.err)
	}
	t.Logf("takeover with TTL %s: %s (monitor %d, epoch %d -> %d)", DefaultTTL, w.at.Sub(killed).Round(time.Millisecond), w.who, la.Rev, w.lead.Rev)
	if w.lead.Rev <= la.Rev {
		t.Errorf("new epoch %d not above the dead leader's %d", w.lead.Rev, la.Rev)
	}
	if why := la.Lost(); why != "session lease lost" {
		t.Errorf("dead leader's leadership ended with %q", why)
	}
	cancel()
	<-wins
}

// TestResignHandsOver: a resigning leader's Done closes at once and the
// next candidate leads; Observe reports both leaders in turn.
func TestResignHandsOver(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, _ := c.elector(0, 2*time.Second)
	b, _ := c.elector(1, 2*time.Second)
	la, err := a.Campaign(ctx)
	if err != nil {
		t.Fatal(err)
	}
	obs := b.Observe(ctx)
	seen := <-obs
	if seen.Name != "mon0" {
		t.Fatalf("observed %+v first, want mon0", seen)
	}
	wins := make(chan won, 1)
	campaign(ctx, t, 1, b, wins)
	if err := a.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	waitDone(t, la, time.Second)
	w := <-wins
	if w.err != nil || w.lead.Rev <= la.Rev {
		t.Fatalf("after resign: %+v (old epoch %d)", w, la.Rev)
	}
	for seen.Name != "mon1" || seen.Since.IsZero() {
		var ok bool
		if seen, ok = <-obs; !ok {
			t.Fatal("observe ended before mon1 published its leadership")
		}
	}
	if seen.Rev != w.lead.Rev {
		t.Errorf("observed rev %d, want %d", seen.Rev, w.lead.Rev)
	}
	if _, err := a.Leader(ctx); err != nil {
		t.Errorf("Leader from a follower: %v", err)
	}
}

// TestNewElectorChecksConfig covers the refusals.
func TestNewElectorChecksConfig(t *testing.T) {
	if _, err := NewElector(Config{Name: "x"}); err == nil {
		t.Error("no client: want an error")
	}
}

// TestLostTermStartsFresh: when the leader key disappears under a leader,
// its Done closes, and its next term has a new key and a larger epoch.
func TestLostTermStartsFresh(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, cli := c.elector(0, 2*time.Second)
	l1, err := a.Campaign(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Delete(ctx, l1.Key); err != nil {
		t.Fatal(err)
	}
	waitDone(t, l1, 5*time.Second)
	if why := l1.Lost(); why != lostKey {
		t.Errorf("ended with %q, want %q", why, lostKey)
	}
	l2, err := a.Campaign(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if l2.Key == l1.Key || l2.Rev <= l1.Rev {
		t.Fatalf("second term %s rev %d; first %s rev %d", l2.Key, l2.Rev, l1.Key, l1.Rev)
	}
	if l3, err := a.Campaign(ctx); err != nil || l3 != l2 {
		t.Fatalf("Campaign while leading: %v, %v; want the current term", l3, err)
	}
	select {
	case <-l2.Done():
		t.Fatal("campaigning while leading ended the term")
	default:
	}
}
