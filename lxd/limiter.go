package lxd

import (
	"context"
	"fmt"
	"io"
	"math"

	"golang.org/x/time/rate"

	"github.com/understudy/understudy/internal/clock"
)

// Limiter is one bandwidth cap, in bytes per second, that every stream
// given it shares: the copies a capped migration relays (CopyOptions.Limiter,
// RefreshOptions.Limiter) and the content syncs' reads (Reader) draw on
// the same token bucket, so together they stay under the cap however many
// run at once. A rate of 0 or less does not cap. Safe for concurrent use;
// SetRate changes the cap of the streams already running.
type Limiter struct {
	clock clock.Clock
	lim   *rate.Limiter
}

// NewLimiter returns a shared cap of bytesPerSec on the wall clock.
func NewLimiter(bytesPerSec int64) *Limiter { return newLimiterClock(bytesPerSec, clock.Wall) }

// newLimiterClock returns a shared cap that waits on c (tests pass a fake).
func newLimiterClock(bytesPerSec int64, c clock.Clock) *Limiter {
	l := &Limiter{clock: c, lim: rate.NewLimiter(rate.Inf, relayBurst)}
	if bytesPerSec > 0 {
		l.SetRate(bytesPerSec)
	}
	return l
}

// SetRate sets the cap (migration.bandwidth after a reload); 0 or less
// lifts it.
func (l *Limiter) SetRate(bytesPerSec int64) {
	if max(bytesPerSec, 0) == l.Rate() {
		return // unchanged: keep the tokens as they are
	}
	now := l.clock.Now()
	if bytesPerSec <= 0 {
		l.lim.SetLimitAt(now, rate.Inf)
		l.lim.SetBurstAt(now, relayBurst)
		return
	}
	l.lim.SetLimitAt(now, rate.Limit(bytesPerSec))
	l.lim.SetBurstAt(now, int(min(bytesPerSec, relayBurst)))
}

// Rate is the cap in bytes per second; 0 when there is none.
func (l *Limiter) Rate() int64 {
	r := l.lim.Limit()
	if r == rate.Inf || r <= 0 || float64(r) > math.MaxInt64 {
		return 0
	}
	return int64(r)
}

// Burst is the most bytes one WaitN may ask for.
func (l *Limiter) Burst() int { return max(1, l.lim.Burst()) }

// WaitN waits until n bytes may pass, or ctx ends (the reservation is
// then given back).
func (l *Limiter) WaitN(ctx context.Context, n int) error {
	now := l.clock.Now()
	r := l.lim.ReserveN(now, n)
	if !r.OK() {
		return fmt.Errorf("wait for %d bytes: more than the cap's burst of %d", n, l.Burst())
	}
	d := r.DelayFrom(now)
	if d <= 0 {
		return nil
	}
	select {
	case <-l.clock.After(d):
		return nil
	case <-ctx.Done():
		r.CancelAt(l.clock.Now())
		return ctx.Err()
	}
}

// Reader returns r read through the shared cap; a wait ends with ctx.
func (l *Limiter) Reader(ctx context.Context, r io.Reader) io.Reader {
	return &limitedReader{ctx: ctx, r: r, lim: l}
}

// capped is the limiter a copy uses: shared when given, else one of its
// own at bytesPerSec, else nil (no cap).
func capped(shared *Limiter, bytesPerSec int64) (*Limiter, error) {
	switch {
	case shared != nil:
		return shared, nil
	case bytesPerSec < 0:
		return nil, fmt.Errorf("bandwidth %d bytes/s is negative", bytesPerSec)
	case bytesPerSec > 0:
		return NewLimiter(bytesPerSec), nil
	}
	return nil, nil
}
