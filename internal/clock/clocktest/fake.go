// Package clocktest holds the hand fakes of clock.Clock for tests: Fake,
// which moves only when the test advances it, and Skewed, the wall clock
// off by a fixed amount.
package clocktest

import (
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/clock"
)

// Fake is a clock.Clock that moves only when the test calls Advance.
type Fake struct {
	mu      sync.Mutex
	cond    *sync.Cond
	now     time.Time
	waiters []fakeTimer
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

var (
	_ clock.Clock = (*Fake)(nil)
	_ clock.Clock = Skewed(0)
)

// NewFake returns a Fake at 2026-01-01 00:00 UTC.
func NewFake() *Fake {
	c := &Fake{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	c.cond = sync.NewCond(&c.mu)
	return c
}

// Now returns the fake time.
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After delivers the fake time once Advance moved it d on.
func (c *Fake) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeTimer{at: c.now.Add(d), ch: ch})
	c.cond.Broadcast()
	return ch
}

// Advance moves the clock and fires every timer that is due.
func (c *Fake) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = kept
}

// BlockUntil waits until n timers are pending, i.e. until n goroutines
// are asleep on the clock. It fails the test after a generous bound.
func (c *Fake) BlockUntil(t testing.TB, n int) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		c.mu.Lock()
		for len(c.waiters) != n {
			c.cond.Wait()
		}
		c.mu.Unlock()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		c.mu.Lock()
		got := len(c.waiters)
		c.cond.Broadcast() // let the helper goroutine re-check and leak no further
		c.mu.Unlock()
		t.Fatalf("waited for %d sleepers on the fake clock, have %d", n, got)
	}
}

// Skewed is the wall clock off by its value: a clock.Clock for code that
// must notice a skewed peer (TSIG's time check).
type Skewed time.Duration

// Now returns the wall time plus the skew.
func (s Skewed) Now() time.Time { return time.Now().Add(time.Duration(s)) }

// After is the wall clock's.
func (s Skewed) After(d time.Duration) <-chan time.Time { return time.After(d) }
