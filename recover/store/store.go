package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/understudy/understudy/recover"
)

// ErrFenced: a guarded store refused a write because its guard no longer
// holds (see Etcd.Guarded): this monitor is no longer the leader.
// Retrying cannot help; the caller must stop acting on the store.
var ErrFenced = errors.New("write fenced: the store's guard no longer holds")

// Store persists service records, hands out epochs and streams placement
// changes.
//
// Concurrency contract: implementations are safe for concurrent use. The
// executor calls Save for a service from that service's goroutine only, so
// saves of one service never race each other; Save must be durable when it
// returns (the executor performs the next action only then).
type Store interface {
	// Load returns every persisted service record.
	Load(ctx context.Context) ([]recover.Record, error)
	// Save writes a service's record, and its placement when that changed,
	// in one atomic write.
	Save(ctx context.Context, rec recover.Record) error
	// NextEpoch increments the monotonic epoch and returns the new value.
	// A monitor calls it once when it starts (or becomes leader).
	NextEpoch(ctx context.Context) (uint64, error)
	// WatchPlacements returns the current placements and a channel of every
	// later change, closed when ctx ends or the store cannot keep the
	// watcher (then the caller lists again).
	WatchPlacements(ctx context.Context) ([]recover.Placement, <-chan recover.Placement, error)
}

// encodeRecord and decodeRecord are the one serialization of records, shared
// by the stores so the in-memory store exercises the same round trip.
func encodeRecord(rec recover.Record) ([]byte, error) {
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encode record of %q: %w", rec.Service, err)
	}
	return b, nil
}

func decodeRecord(b []byte) (recover.Record, error) {
	var rec recover.Record
	if err := json.Unmarshal(b, &rec); err != nil {
		return recover.Record{}, fmt.Errorf("decode record: %w", err)
	}
	return rec, nil
}

// samePlacement compares placements, times by instant.
func samePlacement(a, b recover.Placement) bool {
	return a.Service == b.Service && a.Where == b.Where && a.Host == b.Host &&
		a.Address == b.Address && a.Since.Equal(b.Since) && a.Epoch == b.Epoch && a.Held == b.Held &&
		a.FailingOver == b.FailingOver && a.Unavailable == b.Unavailable
}
