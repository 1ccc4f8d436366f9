package drill

import (
	"context"
	"errors"
	"testing"
	"time"
)

// fakeLister is a statusLister whose answers a test scripts: each call
// runs the next step (or the last one again).
type fakeLister struct {
	calls int
	steps []func(ctx context.Context) ([]ServiceStatus, error)
}

func (f *fakeLister) Services(ctx context.Context) ([]ServiceStatus, error) {
	i := min(f.calls, len(f.steps)-1)
	f.calls++
	return f.steps[i](ctx)
}

// TestSharedStatusIgnoresCallerCancel: a caller cancelled while the shared
// read runs does not cut it (the read is every service's), and the answer
// is cached for the next caller.
func TestSharedStatusIgnoresCallerCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var readErr error
	l := &fakeLister{steps: []func(context.Context) ([]ServiceStatus, error){
		func(rctx context.Context) ([]ServiceStatus, error) {
			cancel()
			readErr = rctx.Err()
			return []ServiceStatus{{Service: "web"}}, nil
		},
	}}
	s := &sharedStatus{list: l, ttl: time.Hour}
	if _, err := s.Service(ctx, "web"); err != nil {
		t.Fatalf("Service: %v, want the entry", err)
	}
	if readErr != nil {
		t.Errorf("the shared read saw %v after the caller was cancelled, want no error", readErr)
	}
	if _, err := s.Service(context.Background(), "web"); err != nil || l.calls != 1 {
		t.Errorf("second Service: %v after %d reads, want the cached entry after 1", err, l.calls)
	}
	if _, err := s.Service(ctx, "web"); !errors.Is(err, context.Canceled) {
		t.Errorf("Service on a cancelled context: %v, want context.Canceled", err)
	}
}

// TestSharedStatusDoesNotCacheContextErrors: a read that timed out is not
// cached for ttl; the next caller reads again. Other errors are cached.
func TestSharedStatusDoesNotCacheContextErrors(t *testing.T) {
	refused := errors.New("connection refused")
	l := &fakeLister{steps: []func(context.Context) ([]ServiceStatus, error){
		func(context.Context) ([]ServiceStatus, error) { return nil, context.DeadlineExceeded },
		func(context.Context) ([]ServiceStatus, error) { return nil, refused },
		func(context.Context) ([]ServiceStatus, error) { return []ServiceStatus{{Service: "web"}}, nil },
	}}
	s := &sharedStatus{list: l, ttl: time.Hour}
	if _, err := s.Service(context.Background(), "web"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("first Service: %v, want the read's deadline error", err)
	}
	if _, err := s.Service(context.Background(), "web"); !errors.Is(err, refused) {
		t.Fatalf("second Service: %v, want a fresh read's error (%v)", err, refused)
	}
	if _, err := s.Service(context.Background(), "web"); !errors.Is(err, refused) || l.calls != 2 {
		t.Errorf("third Service: %v after %d reads, want the cached %v after 2", err, l.calls, refused)
	}
}
