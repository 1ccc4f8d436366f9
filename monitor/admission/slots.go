package admission

import (
	"context"
	"slices"
	"sync"
)

// slots bounds the activations running at once; when one ends, the waiter
// of the highest priority (the earliest among equals) goes next.
type slots struct {
	mu      sync.Mutex
	running int
	waiters []*waiter
}

// waiter is one activation waiting for a slot; ready is closed when it has one.
type waiter struct {
	prio  int
	ready chan struct{}
}

// acquire takes a slot, waiting while limit() are taken.
func (s *slots) acquire(ctx context.Context, prio int, limit func() int) error {
	s.mu.Lock()
	if s.running < max(limit(), 1) && len(s.waiters) == 0 {
		s.running++
		s.mu.Unlock()
		return nil
	}
	w := &waiter{prio: prio, ready: make(chan struct{})}
	// Highest priority first; a later waiter goes after its equals.
	i, _ := slices.BinarySearchFunc(s.waiters, w, func(a, b *waiter) int {
		if a.prio >= b.prio {
			return -1
		}
		return 1
	})
	s.waiters = slices.Insert(s.waiters, i, w)
	s.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		defer s.mu.Unlock()
		if j := slices.Index(s.waiters, w); j >= 0 {
			s.waiters = slices.Delete(s.waiters, j, j+1)
			return ctx.Err()
		}
		// Handed a slot as the context ended: give it on.
		s.running--
		s.handOn(limit)
		return ctx.Err()
	}
}

// release gives a slot back.
func (s *slots) release(limit func() int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running--
	s.handOn(limit)
}

// handOn hands free slots to the first waiters. The caller holds mu.
func (s *slots) handOn(limit func() int) {
	for len(s.waiters) > 0 && s.running < max(limit(), 1) {
		w := s.waiters[0]
		s.waiters = s.waiters[1:]
		s.running++
		close(w.ready)
	}
}
