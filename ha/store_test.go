package ha

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/understudy/understudy/internal/tcpcut"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/store"
)

func record(service, where string, epoch uint64) recover.Record {
	return recover.Record{Service: service, State: recover.Primary, Placement: recover.Placement{
		Service: service, Where: where, Host: where + "-vm", Address: netip.MustParseAddr("10.200.0.11"), Epoch: epoch,
	}}
}

// TestDeposedLeaderWritesFail: a leader that has not yet noticed it was
// deposed reaches etcd with its writes; the guard refuses them, nothing
// changes, its leadership ends, and the new leader's writes succeed. The
// epoch grows with every leader and equals the election revision.
func TestDeposedLeaderWritesFail(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, acli := c.elector(0, 2*time.Second)
	b, bcli := c.elector(1, 2*time.Second)
	base := c.store(acli)

	var epochs []uint64
	la, err := a.Campaign(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sa := NewStore(base, la)
	ea, err := sa.NextEpoch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	epochs = append(epochs, ea)
	if err := sa.Save(ctx, record("web", recover.AtPrimary, ea)); err != nil {
		t.Fatal(err)
	}
	// A leader that missed its deposition: same key and revision, not ended.
	unaware := NewStore(base, newLeadership(la.Key, la.Rev, la.Since))

	wins := make(chan won, 1)
	campaign(ctx, t, 1, b, wins)
	if err := a.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	w := <-wins
	if w.err != nil {
		t.Fatal(w.err)
	}
	sb := NewStore(c.store(bcli), w.lead)
	eb, err := sb.NextEpoch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	epochs = append(epochs, eb)

	err = unaware.Save(ctx, record("web", recover.AtStandby, ea))
	if !errors.Is(err, ErrNotLeader) || !errors.Is(err, store.ErrFenced) {
		t.Fatalf("deposed leader's Save: %v, want ErrNotLeader and store.ErrFenced", err)
	}
	t.Logf("deposed leader's Save: %v", err)
	waitDone(t, unaware.Leadership(), time.Second)
	if _, err := unaware.NextEpoch(ctx); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("deposed leader's NextEpoch: %v", err)
	}
	if err := sa.Save(ctx, record("web", recover.AtStandby, ea)); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("resigned leader's Save: %v", err)
	}
	if err := sb.Save(ctx, record("web", recover.AtSpare, eb)); err != nil {
		t.Fatalf("new leader's Save: %v", err)
	}
	recs, err := sb.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Placement.Where != recover.AtSpare || recs[0].Placement.Epoch != eb {
		t.Fatalf("stored %+v, want the new leader's write only", recs)
	}

	// A third term: the old leader campaigns again after b resigns.
	campaign(ctx, t, 0, a, wins)
	if err := b.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	w = <-wins
	if w.err != nil {
		t.Fatal(w.err)
	}
	ec, err := NewStore(base, w.lead).NextEpoch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	epochs = append(epochs, ec)
	for i, e := range epochs {
		if i > 0 && e <= epochs[i-1] {
			t.Errorf("epochs %v do not strictly increase", epochs)
		}
	}
	if ec != w.lead.Epoch() {
		t.Errorf("epoch %d, want the election revision %d", ec, w.lead.Rev)
	}
}

// TestEpochAboveOlderCounter: a cluster whose epoch counter (from monitors
// that ran unguarded) is above the election revision still gets a larger
// epoch.
func TestEpochAboveOlderCounter(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, cli := c.elector(0, 2*time.Second)
	base := c.store(cli)
	l, err := a.Campaign(ctx)
	if err != nil {
		t.Fatal(err)
	}
	counter := uint64(l.Rev) + 1000
	if _, err := cli.Put(ctx, c.prefix+"epoch", strconv.FormatUint(counter, 10)); err != nil {
		t.Fatal(err)
	}
	ep, err := NewStore(base, l).NextEpoch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ep != counter+1 {
		t.Fatalf("epoch %d, want %d (counter %d > revision %d)", ep, counter+1, counter, l.Rev)
	}
}

// TestPartitionEndsLeadership cuts the leader off etcd (its connection goes
// through a proxy that drops everything): its Done closes within the lease
// TTL (bounded generously here), its writes are refused without reaching
// etcd, its Context ends, and another monitor leads.
func TestPartitionEndsLeadership(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	link := tcpcut.New(t, c.peers[0].ClientURL)
	acli, err := clientv3.New(clientv3.Config{Endpoints: []string{link.URL()}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { acli.Close() })
	a, err := NewElector(Config{Client: acli, Name: "mon0", TTL: 2 * time.Second, Prefix: c.prefix + "leader"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	la, err := a.Campaign(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sa := NewStore(c.store(acli), la)
	actx, stop := la.Context(ctx)
	defer stop()
	wins := make(chan won, 2)
	for i := 1; i < 3; i++ {
		e, _ := c.elector(i, 2*time.Second)
		campaign(ctx, t, i, e, wins)
	}
	cut := link.Cut()
	waitDone(t, la, 15*time.Second)
	const ttl = 2 * time.Second
	down, renewed := la.Ended(), la.LastRenewal()
	t.Logf("leadership ended %s after the cut, %s after its last renewal was sent (TTL %s): %s",
		down.Sub(cut).Round(time.Millisecond), down.Sub(renewed).Round(time.Millisecond), ttl, la.Lost())
	// The step-down is within the lease: before etcd can expire it (no
	// sooner than the TTL after the last renewal was sent), so before any
	// other monitor can lead.
	if renewed.IsZero() || renewed.After(cut) {
		t.Errorf("last renewal sent at %v, want before the cut at %v", renewed, cut)
	}
	if d := down.Sub(renewed); d >= ttl {
		t.Errorf("the cut-off leader stepped down %s after its last renewal, want within the lease TTL %s", d, ttl)
	}
	if err := sa.Save(ctx, record("web", recover.AtStandby, la.Epoch())); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("partitioned leader's Save: %v", err)
	}
	select {
	case <-actx.Done():
		if !errors.Is(context.Cause(actx), ErrNotLeader) {
			t.Errorf("context cause %v", context.Cause(actx))
		}
	case <-time.After(time.Second):
		t.Fatal("leadership context still alive")
	}
	w := <-wins
	if w.err != nil || w.lead.Rev <= la.Rev {
		t.Fatalf("new leader: %+v (old epoch %d)", w, la.Rev)
	}
	t.Logf("monitor %d leads %s after the cut", w.who, w.at.Sub(cut).Round(time.Millisecond))
	// Zero overlap: the old leadership ended before the new one began.
	if !down.Before(w.lead.Since) {
		t.Errorf("overlap: the cut-off leader stepped down at %v, monitor %d led from %v", down, w.who, w.lead.Since)
	}
	cancel()
	<-wins
}

// TestGuardedSaveKeepsPlacementSemantics: under the guard, a placement is
// still written only when it changes (the watch sees each change once) and
// a closed incident lands in the history.
func TestGuardedSaveKeepsPlacementSemantics(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, cli := c.elector(0, 2*time.Second)
	l, err := a.Campaign(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := NewStore(c.store(cli), l)
	_, ch, err := s.WatchPlacements(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec := record("api", recover.AtPrimary, l.Epoch())
	for range 2 { // the second save does not change the placement
		if err := s.Save(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	moved := record("api", recover.AtStandby, l.Epoch())
	moved.Incident = &recover.Incident{ID: "api-1", Service: "api", Opened: time.Now(), Closed: time.Now(), Result: recover.ResultRecovered}
	if err := s.Save(ctx, moved); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 2 {
		select {
		case p := <-ch:
			got = append(got, p.Where)
		case <-ctx.Done():
			t.Fatalf("placements seen: %v", got)
		}
	}
	select {
	case p := <-ch:
		t.Fatalf("extra placement event %+v after %v", p, got)
	case <-time.After(300 * time.Millisecond):
	}
	if got[0] != recover.AtPrimary || got[1] != recover.AtStandby {
		t.Errorf("placements seen %v, want [primary standby]", got)
	}
	hist, err := s.History(ctx, "api")
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 1 || hist[0].ID != "api-1" {
		t.Errorf("history %+v, want api-1", hist)
	}
}
