// Package clock is understudy's one injected source of time: whatever reads
// the time or waits for it, and should be driven by a test, takes a Clock.
// Production code passes Wall; tests pass clocktest.Fake (moved by hand) or
// run the wall clock inside a testing/synctest bubble. The incident core
// (package recover) takes no clock at all: its time comes with its events.
//
// The package holds only the interface and the wall clock; it does not
// schedule anything itself.
package clock

import "time"

// Clock tells the time and waits for it.
type Clock interface {
	Now() time.Time
	// After delivers the time once d has passed.
	After(d time.Duration) <-chan time.Time
}

// Wall is the real clock (time.Now, time.After).
var Wall Clock = wall{}

type wall struct{}

func (wall) Now() time.Time                         { return time.Now() }
func (wall) After(d time.Duration) <-chan time.Time { return time.After(d) }
