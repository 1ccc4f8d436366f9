package conns

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/understudy/understudy/inventory"
)

// TestLazyHVWaiterHonoursItsDeadline: a caller waiting behind another's
// slow connection attempt gives up when its own ctx ends, and the attempt
// still completes for everyone after it.
func TestLazyHVWaiterHonoursItsDeadline(t *testing.T) {
	release := make(chan struct{})
	var dials atomic.Int32
	l := &lazyHV{spec: inventory.Hypervisor{Name: "host-a"}, open: func(ctx context.Context, _ inventory.Hypervisor) (Hypervisor, error) {
		dials.Add(1)
		<-release
		return nil, errors.New("refused")
	}}
	first := make(chan error, 1)
	go func() {
		_, err := l.get(context.Background())
		first <- err
	}()
	for dials.Load() == 0 { // the first caller is dialling
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.get(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting caller: %v, want its deadline", err)
	}
	close(release)
	if err := <-first; err == nil {
		t.Fatal("the dialling caller got no error from a refused connection")
	}
	if _, err := l.get(context.Background()); !errors.Is(err, errRetryLater) {
		t.Fatalf("right after a failure: %v, want errRetryLater", err)
	}
	if n := dials.Load(); n != 1 {
		t.Fatalf("%d connection attempts, want 1", n)
	}
}
