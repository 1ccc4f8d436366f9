package recover

import (
	"fmt"
	"time"
)

// CopyAge is how fresh the standby's copy of a service's content was when
// its incident opened (services[].sync): the recovery point. The monitor's
// sync part hands it in with the trigger; the machine only records it.
type CopyAge struct {
	// SyncedAt is when the last good sync began reading the primary: the
	// copy holds the primary's content as of then. Zero: no sync succeeded
	// yet (the copy is the container's image).
	SyncedAt time.Time `json:"synced_at,omitzero"`
	// Age is the incident's opening minus SyncedAt, whole milliseconds.
	Age time.Duration `json:"age_ns"`
	// Bytes is the size of the copy's files.
	Bytes int64 `json:"bytes"`
	// MaxRPO is the service's sync.max-rpo; Age above it is a missed RPO.
	MaxRPO time.Duration `json:"max_rpo_ns"`
}

// String says it as an incident does: "served from a copy 4m12s old".
func (c *CopyAge) String() string {
	if c == nil {
		return ""
	}
	if c.SyncedAt.IsZero() {
		return "no sync had succeeded: served from the standby's image"
	}
	s := fmt.Sprintf("served from a copy %s old", c.Age.Round(time.Second))
	if c.MaxRPO > 0 && c.Age > c.MaxRPO {
		s += fmt.Sprintf(" (max-rpo %s exceeded)", c.MaxRPO)
	}
	return s
}
