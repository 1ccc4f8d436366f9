package probe

import "time"

// Clock is the monitor's source of time, injected so tests can drive the
// schedule without sleeping. Probe durations in metrics use the wall clock.
type Clock interface {
	Now() time.Time
	// After delivers the time once d has passed.
	After(d time.Duration) <-chan time.Time
}

// wallClock is the real time.
type wallClock struct{}

func (wallClock) Now() time.Time                         { return time.Now() }
func (wallClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
