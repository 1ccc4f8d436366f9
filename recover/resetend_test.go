package recover

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// fencingStore is a MemStore whose guard is lost after allow more saves
// once armed: later saves are refused with ErrFenced.
type fencingStore struct {
	*MemStore
	mu    sync.Mutex
	armed bool
	allow int
}

func (s *fencingStore) Save(ctx context.Context, rec Record) error {
	s.mu.Lock()
	fenced := s.armed && s.allow <= 0
	if s.armed {
		s.allow--
	}
	s.mu.Unlock()
	if fenced {
		return ErrFenced
	}
	return s.MemStore.Save(ctx, rec)
}

// TestResetFencedMidwayAnswersFenced: a reset whose later save is fenced
// (another monitor leads now) ends the caller's wait at once with
// ErrFenced, not at the caller's deadline.
func TestResetFencedMidwayAnswersFenced(t *testing.T) {
	store := &fencingStore{MemStore: NewMemStore()}
	w := newWorldWith(t, nil, func(w *world) { w.store = store })
	ctx := context.Background()
	if err := w.exec.Trigger(ctx, "web", FromCLI, "drill"); err != nil {
		t.Fatal(err)
	}
	w.until("on-standby", func(r Record) bool { return r.State == OnStandby })
	store.mu.Lock()
	store.armed, store.allow = true, 1 // the reset is taken; the save of its first step is fenced
	store.mu.Unlock()
	rctx, cancel := context.WithTimeout(ctx, time.Minute) // only for a failing run
	defer cancel()
	err := w.exec.Reset(rctx, "web", "primary repaired")
	if !errors.Is(err, ErrFenced) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("reset fenced midway: %v, want ErrFenced", err)
	}
}

// TestResetAwaitEndsWithStopped: a reset still running when the executor
// stops (its term ended) answers ErrStopped.
func TestResetAwaitEndsWithStopped(t *testing.T) {
	w := newWorld(t, nil)
	ctx := context.Background()
	if err := w.exec.Trigger(ctx, "web", FromCLI, "drill"); err != nil {
		t.Fatal(err)
	}
	w.until("on-standby", func(r Record) bool { return r.State == OnStandby })
	// No record ever satisfies the wait: only the executor's end does.
	err := func() error {
		done := make(chan error, 1)
		go func() { done <- w.exec.await(ctx, "web", func(Record) (bool, error) { return false, nil }) }()
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
	rec := Record{Service: "web", State: Stuck, Incident: &Incident{ID: "web-2", Stuck: "dns-replace failed"}}
	if ok, err := resetOutcome(rec); !ok || !errors.Is(err, ErrStuck) {
		t.Fatalf("resetOutcome(stuck) = %v, %v; want done with ErrStuck", ok, err)
	}
}
