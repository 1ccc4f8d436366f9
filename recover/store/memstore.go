package store

import (
	"context"
	"sort"
	"sync"

	"github.com/understudy/understudy/recover"
)

var _ Store = (*Memory)(nil)

// watchBuffer is how many placement changes a slow watcher may fall behind
// before the store drops it (closes its channel).
const watchBuffer = 64

// Memory is a Store in memory, for tests and for a monitor run without
// persistence. Records go through the same JSON encoding as in etcd.
type Memory struct {
	mu       sync.Mutex
	records  map[string][]byte
	epoch    uint64
	watchers map[chan recover.Placement]struct{}
	saves    int
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory {
	return &Memory{records: map[string][]byte{}, watchers: map[chan recover.Placement]struct{}{}}
}

// Load returns every record, sorted by service.
func (s *Memory) Load(_ context.Context) ([]recover.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]recover.Record, 0, len(s.records))
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
func (s *Memory) Save(_ context.Context, rec recover.Record) error {
	b, err := encodeRecord(rec)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saves++
	var old recover.Placement
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
func (s *Memory) publish(p recover.Placement) {
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
func (s *Memory) Saves() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saves
}

// NextEpoch increments and returns the epoch.
func (s *Memory) NextEpoch(_ context.Context) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.epoch++
	return s.epoch, nil
}

// WatchPlacements returns the placements now and a channel of changes.
func (s *Memory) WatchPlacements(ctx context.Context) ([]recover.Placement, <-chan recover.Placement, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// List and register under one lock so no change falls between them.
	cur := make([]recover.Placement, 0, len(s.records))
	for _, b := range s.records {
		if rec, err := decodeRecord(b); err == nil {
			cur = append(cur, rec.Placement)
		}
	}
	sort.Slice(cur, func(i, j int) bool { return cur[i].Service < cur[j].Service })
	ch := make(chan recover.Placement, watchBuffer)
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
