package recover

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
)

// recordStore persists records the way the stores of package
// recover/store do, as JSON, so a test that restarts a Machine from it
// sees exactly what a restart after a real save would. The store's own
// contract is tested in recover/store; this fake only keeps the round trip.
type recordStore struct{ records map[string][]byte }

func newRecordStore() *recordStore { return &recordStore{records: map[string][]byte{}} }

// Save encodes rec under its service.
func (s *recordStore) Save(_ context.Context, rec Record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode record of %q: %w", rec.Service, err)
	}
	s.records[rec.Service] = b
	return nil
}

// Load decodes every record, sorted by service.
func (s *recordStore) Load(_ context.Context) ([]Record, error) {
	out := make([]Record, 0, len(s.records))
	for _, b := range s.records {
		var rec Record
		if err := json.Unmarshal(b, &rec); err != nil {
			return nil, fmt.Errorf("decode record: %w", err)
		}
		out = append(out, rec)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out, nil
}
