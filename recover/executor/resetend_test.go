package executor

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/store"
)

// fencingStore is a MemStore whose guard is lost after allow more saves
// once armed: later saves are refused with ErrFenced.
type fencingStore struct {
	*store.Memory
	mu    sync.Mutex
	armed bool
	allow int
}

func (s *fencingStore) Save(ctx context.Context, rec recover.Record) error {
	s.mu.Lock()
	fenced := s.armed && s.allow <= 0
	if s.armed {
		s.allow--
	}
	s.mu.Unlock()
	if fenced {
		return store.ErrFenced
	}
	return s.Memory.Save(ctx, rec)
}

// TestResetFencedMidwayAnswersFenced: a reset whose later save is fenced
// (another monitor leads now) ends the caller's wait at once with
// ErrFenced, not at the caller's deadline.
func TestResetFencedMidwayAnswersFenced(t *testing.T) {
	fs := &fencingStore{Memory: store.NewMemory()}
	w := newWorldWith(t, nil, func(w *world) { w.store = fs })
	ctx := context.Background()
	if err := w.exec.Trigger(ctx, "web", recover.FromCLI, "drill"); err != nil {
		t.Fatal(err)
	}
	w.until("on-standby", func(r recover.Record) bool { return r.State == recover.OnStandby })
	fs.mu.Lock()
	fs.armed, fs.allow = true, 1 // the reset is taken; the save of its first step is fenced
	fs.mu.Unlock()
	rctx, cancel := context.WithTimeout(ctx, time.Minute) // only for a failing run
	defer cancel()
	err := w.exec.Reset(rctx, "web", "primary repaired")
	if !errors.Is(err, store.ErrFenced) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("reset fenced midway: %v, want ErrFenced", err)
	}
}

// TestResetAwaitEndsWithStopped: a reset still running when the executor
// stops (its term ended) answers ErrStopped.
func TestResetAwaitEndsWithStopped(t *testing.T) {
	w := newWorld(t, nil)
	ctx := context.Background()
	if err := w.exec.Trigger(ctx, "web", recover.FromCLI, "drill"); err != nil {
		t.Fatal(err)
	}
	w.until("on-standby", func(r recover.Record) bool { return r.State == recover.OnStandby })
	// No record ever satisfies the wait: only the executor's end does.
	err := func() error {
		done := make(chan error, 1)
		go func() { done <- w.exec.await(ctx, "web", func(recover.Record) (bool, error) { return false, nil }) }()
		w.stop()
		return <-done
	}()
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("await when the executor stops: %v, want ErrStopped", err)
	}
}

// TestResetOutcomeStuck: a reset that ends with the incident stuck is
// answered with ErrStuck (the API's 409).
func TestResetOutcomeStuck(t *testing.T) {
	rec := recover.Record{Service: "web", State: recover.Stuck, Incident: &recover.Incident{ID: "web-2", Stuck: "dns-replace failed"}}
	if ok, err := resetOutcome(rec); !ok || !errors.Is(err, ErrStuck) {
		t.Fatalf("resetOutcome(stuck) = %v, %v; want done with ErrStuck", ok, err)
	}
}
