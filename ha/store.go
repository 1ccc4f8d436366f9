package ha

import (
	"context"
	"errors"
	"fmt"

	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/store"
)

var _ store.Store = (*Store)(nil)

// Store is recover's EtcdStore for one leadership: every write is a single
// transaction guarded by the leader key (Leadership.Guard), so once another
// monitor leads, this one's writes change nothing and fail with an error
// wrapping ErrNotLeader (and store.ErrFenced). A refused write also ends
// the Leadership, so Done closes and Leadership.Context stops the executor.
// Reads are not guarded.
type Store struct {
	base    *store.Etcd
	guarded *store.Etcd
	lead    *Leadership
}

// NewStore returns base guarded by lead. Make a new Store for every
// Leadership.
func NewStore(base *store.Etcd, lead *Leadership) *Store {
	return &Store{base: base, guarded: base.Guarded(lead.Guard()), lead: lead}
}

// Leadership is the leadership the store's writes are guarded by.
func (s *Store) Leadership() *Leadership { return s.lead }

// Load returns every service record.
func (s *Store) Load(ctx context.Context) ([]recover.Record, error) { return s.base.Load(ctx) }

// Save writes rec, and its placement when that changed, only while this
// monitor leads.
func (s *Store) Save(ctx context.Context, rec recover.Record) error {
	if err := s.leading(); err != nil {
		return fmt.Errorf("save record of %q: %w", rec.Service, err)
	}
	return s.fenced(s.guarded.Save(ctx, rec))
}

// NextEpoch records and returns the epoch of this leadership: its election
// revision, or the stored epoch plus one when that is larger (a cluster
// that ran unguarded monitors before). Call it once when leadership starts
// and give the result to the executor.
func (s *Store) NextEpoch(ctx context.Context) (uint64, error) {
	if err := s.leading(); err != nil {
		return 0, fmt.Errorf("next epoch: %w", err)
	}
	ep, err := s.guarded.RaiseEpoch(ctx, s.lead.Epoch())
	return ep, s.fenced(err)
}

// RaiseEpoch is NextEpoch with a floor: the epoch of this leadership is at
// least floor (a new cluster starts above the agents' epochs).
func (s *Store) RaiseEpoch(ctx context.Context, floor uint64) (uint64, error) {
	if err := s.leading(); err != nil {
		return 0, fmt.Errorf("raise epoch: %w", err)
	}
	ep, err := s.guarded.RaiseEpoch(ctx, max(floor, s.lead.Epoch()))
	return ep, s.fenced(err)
}

// CurrentEpoch returns the stored epoch, 0 on a new cluster.
func (s *Store) CurrentEpoch(ctx context.Context) (uint64, error) { return s.base.CurrentEpoch(ctx) }

// WatchPlacements lists the placements and streams later changes.
func (s *Store) WatchPlacements(ctx context.Context) ([]recover.Placement, <-chan recover.Placement, error) {
	return s.base.WatchPlacements(ctx)
}

// History returns the closed incidents of a service, oldest first.
func (s *Store) History(ctx context.Context, service string) ([]recover.Incident, error) {
	return s.base.History(ctx, service)
}

// leading refuses a write once the leadership ended, without asking etcd.
func (s *Store) leading() error {
	if why := s.lead.Lost(); why != "" {
		return fmt.Errorf("%w (%s)", ErrNotLeader, why)
	}
	return nil
}

// fenced turns a refused guard into ErrNotLeader and ends the leadership.
func (s *Store) fenced(err error) error {
	if errors.Is(err, store.ErrFenced) {
		s.lead.end(lostFenced)
		return notLeaderError{err}
	}
	return err
}

// notLeaderError is a write the guard refused: it matches ErrNotLeader and
// keeps the store's own error (which says what was refused).
type notLeaderError struct{ err error }

func (e notLeaderError) Error() string   { return "not the leader: " + e.err.Error() }
func (e notLeaderError) Unwrap() []error { return []error{ErrNotLeader, e.err} }
