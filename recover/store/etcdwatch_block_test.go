package store

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// stuckSource is an etcd without quorum: Get waits until its context ends.
type stuckSource struct{ entered chan struct{} }

func (s *stuckSource) Get(ctx context.Context, _ string, _ ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	close(s.entered)
	<-ctx.Done()
	return nil, ctx.Err()
}

func (s *stuckSource) Watch(context.Context, string, ...clientv3.OpOption) clientv3.WatchChan {
	panic("stuckSource: Watch after a Get that never answers")
}

// TestPlacementHubCloseDuringStuckList: while the first subscriber's list
// waits on an etcd without quorum, Watchers and close still return (the
// list runs outside the hub's lock), and close ends the waiting list.
func TestPlacementHubCloseDuringStuckList(t *testing.T) {
	src := &stuckSource{entered: make(chan struct{})}
	h := newPlacementHub(src, "/t-recover-stuck/placements/")
	errc := make(chan error, 1)
	go func() {
		_, _, err := h.subscribe(context.Background())
		errc <- err
	}()
	<-src.entered
	done := make(chan int, 1)
	go func() {
		n := h.watchers()
		h.close()
		done <- n
	}()
	// A deadlock guard, not a speed goal: without it the test would hang.
	select {
	case n := <-done:
		if n != 0 {
			t.Errorf("watchers during the list: %d, want 0", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watchers and close waited behind a list etcd never answered")
	}
	if err := <-errc; err == nil {
		t.Error("the subscriber whose list close ended got no error")
	}
}

// racingSource answers each Get once two are waiting, and keeps every
// watch's context.
type racingSource struct {
	mu      sync.Mutex
	waiting int
	both    chan struct{}
	watches []context.Context
}

// open is how many watches are not cancelled.
func (s *racingSource) open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, ctx := range s.watches {
		if ctx.Err() == nil {
			n++
		}
	}
	return n
}

func (s *racingSource) Get(ctx context.Context, _ string, _ ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	s.mu.Lock()
	if s.waiting++; s.waiting == 2 {
		close(s.both)
	}
	s.mu.Unlock()
	<-s.both
	return &clientv3.GetResponse{Header: &etcdserverpb.ResponseHeader{Revision: 1}}, nil
}

func (s *racingSource) Watch(ctx context.Context, _ string, _ ...clientv3.OpOption) clientv3.WatchChan {
	s.mu.Lock()
	s.watches = append(s.watches, ctx)
	s.mu.Unlock()
	ch := make(chan clientv3.WatchResponse)
	context.AfterFunc(ctx, func() { close(ch) })
	return ch
}

// TestPlacementHubTwoStartersKeepOneWatch: two first subscribers that list
// at once both subscribe, and the hub keeps one watch: the one that lost
// the race is cancelled.
func TestPlacementHubTwoStartersKeepOneWatch(t *testing.T) {
	src := &racingSource{both: make(chan struct{})}
	h := newPlacementHub(src, "/t-recover-race/placements/")
	errc := make(chan error, 2)
	for range 2 {
		go func() {
			_, _, err := h.subscribe(context.Background())
			errc <- err
		}()
	}
	for range 2 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	if n := h.watchers(); n != 2 {
		t.Errorf("watchers: %d, want 2", n)
	}
	if n := src.open(); n != 1 {
		t.Errorf("open etcd watches: %d, want 1", n)
	}
	h.close()
	if n := src.open(); n != 0 {
		t.Errorf("open etcd watches after close: %d, want 0", n)
	}
}
