package recover

import (
	"context"
	"errors"
	"fmt"
	"strings"
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

// TestManyWarningsStayBounded: an incident re-armed again and again, each
// run adding warnings (some repeated, all long), keeps a deduplicated,
// capped list of them and fits MaxRecordBytes.
func TestManyWarningsStayBounded(t *testing.T) {
	cfg := Config{Service: Service{Name: "web"}}
	inc := &Incident{ID: "web-1", Service: "web"}
	for i := range 5000 {
		inc.Warnings = append(inc.Warnings, fmt.Sprintf("dns.verify: server %d does not answer: %s", i%40, strings.Repeat("x", 2000)))
		inc.Warnings = append(inc.Warnings, "dns.verify: 192.0.2.53:53 does not answer 10.200.1.100")
	}
	m := Restore(cfg, Record{Service: "web", State: Stuck, Incident: inc})
	m.bound()
	rec := m.Record()
	if n := encodedSize(rec); n > MaxRecordBytes {
		t.Errorf("record of %d bytes, want at most %d", n, MaxRecordBytes)
	}
	ws := rec.Incident.Warnings
	if len(ws) == 0 || len(ws) > maxWarnings {
		t.Fatalf("%d warnings kept, want 1 to %d", len(ws), maxWarnings)
	}
	seen := map[string]bool{}
	for _, w := range ws {
		if seen[w] || len(w) > MaxTextBytes {
			t.Errorf("warning kept twice or longer than %d bytes: %.80q", MaxTextBytes, w)
		}
		seen[w] = true
	}
	if ws[len(ws)-1] != "dns.verify: 192.0.2.53:53 does not answer 10.200.1.100" {
		t.Errorf("the latest warning %.80q, want the last one added", ws[len(ws)-1])
	}
}
