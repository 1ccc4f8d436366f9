package recover

import (
	"context"
	"testing"
	"time"

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
