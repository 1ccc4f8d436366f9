package labtest

import (
	"context"
	"sync"
	"time"
)

// Outages is what a client loop saw of a service during a test: how many
// tries succeeded and failed, and the longest stretch from a first failure
// to the next success (the interruption a client lived through).
type Outages struct {
	mu       sync.Mutex
	ok, fail int
	worst    time.Duration
	failedAt time.Time
}

// Loop calls try every pause until ctx ends and records each outcome; a try
// cut short by ctx ending is not counted.
func (o *Outages) Loop(ctx context.Context, pause time.Duration, try func(context.Context) error) {
	for ctx.Err() == nil {
		err := try(ctx)
		if ctx.Err() == nil {
			o.Record(time.Now(), err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
	}
}

// Record counts one outcome observed at now.
func (o *Outages) Record(now time.Time, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err != nil {
		o.fail++
		if o.failedAt.IsZero() {
			o.failedAt = now
		}
		return
	}
	o.ok++
	if !o.failedAt.IsZero() {
		o.worst = max(o.worst, now.Sub(o.failedAt))
		o.failedAt = time.Time{}
	}
}

// Report returns the counts and the longest interruption so far.
func (o *Outages) Report() (ok, fail int, worst time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.ok, o.fail, o.worst
}
