package recover

import (
	"context"
	"sort"
	"sync"
)

var _ Store = (*MemStore)(nil)

// watchBuffer is how many placement changes a slow watcher may fall behind
// before the store drops it (closes its channel).
const watchBuffer = 64

// MemStore is a Store in memory, for tests and for a monitor run without
// persistence. Records go through the same JSON encoding as in etcd.
type MemStore struct {
	mu       sync.Mutex
	records  map[string][]byte
	epoch    uint64
	watchers map[chan Placement]struct{}
	saves    int
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{records: map[string][]byte{}, watchers: map[chan Placement]struct{}{}}
}

// Load returns every record, sorted by service.
func (s *MemStore) Load(_ context.Context) ([]Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Record, 0, len(s.records))
	for _, b := range s.records {
		rec, err := decodeRecord(b)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out, nil
}

// Save stores rec and notifies watchers when its placement changed.
func (s *MemStore) Save(_ context.Context, rec Record) error {
	b, err := encodeRecord(rec)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saves++
	var old Placement
	if prev, ok := s.records[rec.Service]; ok {
		if p, err := decodeRecord(prev); err == nil {
			old = p.Placement
		}
	}
	s.records[rec.Service] = b
	if !samePlacement(old, rec.Placement) {
		s.publish(rec.Placement)
	}
	return nil
}

// publish sends p to every watcher, dropping those that fell behind.
// s.mu is held.
func (s *MemStore) publish(p Placement) {
	for ch := range s.watchers {
		select {
		case ch <- p:
		default:
			delete(s.watchers, ch)
			close(ch)
		}
	}
}

// Saves returns how many times Save was called (for tests).
func (s *MemStore) Saves() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saves
}

// NextEpoch increments and returns the epoch.
func (s *MemStore) NextEpoch(_ context.Context) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.epoch++
	return s.epoch, nil
}

// WatchPlacements returns the placements now and a channel of changes.
func (s *MemStore) WatchPlacements(ctx context.Context) ([]Placement, <-chan Placement, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// List and register under one lock so no change falls between them.
	cur := make([]Placement, 0, len(s.records))
	for _, b := range s.records {
		if rec, err := decodeRecord(b); err == nil {
			cur = append(cur, rec.Placement)
		}
	}
	sort.Slice(cur, func(i, j int) bool { return cur[i].Service < cur[j].Service })
	ch := make(chan Placement, watchBuffer)
	s.watchers[ch] = struct{}{}
	go func() {
		<-ctx.Done()
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.watchers[ch]; ok {
			delete(s.watchers, ch)
			close(ch)
		}
	}()
	return cur, ch, nil
}
