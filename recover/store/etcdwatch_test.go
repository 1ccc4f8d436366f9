package store

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/embedded"
)

// TestPlacementWatchCapAndEviction: the store's one placement watch keeps
// at most max watchers (then ErrTooManyWatchers), drops a watcher that
// falls watchBuffer changes behind (its channel closes, so it lists again)
// while a watcher that reads keeps every change, and drops them all on
// Close.
func TestPlacementWatchCapAndEviction(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e, err := embedded.Start(ctx, embedded.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s := NewEtcd(e.Client, "/t-recover-watch/")
	if s.hub.max != DefaultMaxWatchers {
		t.Fatalf("a new store keeps %d watchers, want DefaultMaxWatchers (%d)", s.hub.max, DefaultMaxWatchers)
	}
	s.hub.max = 2
	_, slow, err := s.WatchPlacements(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, fast, err := s.WatchPlacements(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.WatchPlacements(ctx); !errors.Is(err, ErrTooManyWatchers) {
		t.Fatalf("a third watcher: %v, want ErrTooManyWatchers", err)
	}
	const changes = watchBuffer + 10
	got := make(chan int, 1)
	go func() {
		n := 0
		for range fast {
			if n++; n == changes {
				break
			}
		}
		got <- n
	}()
	rec := recover.New(recover.Config{Service: recover.Service{Name: "web", VM: "web-vm", Address: primaryAddr}}).Record()
	for i := range changes {
		rec.Placement.Epoch = uint64(i + 1) // every save changes the placement
		rec.Placement.Address = netip.MustParseAddr("10.200.1.100")
		if err := s.Save(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	if n := <-got; n != changes {
		t.Errorf("the reading watcher saw %d changes, want %d", n, changes)
	}
	n := 0
	for range slow { // ends: the slow watcher was dropped
		n++
	}
	if n != watchBuffer {
		t.Errorf("the slow watcher got %d changes before it was dropped, want its buffer's %d", n, watchBuffer)
	}
	if w := s.Watchers(); w != 1 {
		t.Errorf("watchers after the eviction: %d, want 1", w)
	}
	s.Close()
	for range fast { // Close ends the remaining watcher
	}
	if _, _, err := s.WatchPlacements(ctx); err == nil {
		t.Error("a watch after Close succeeded")
	}
}
