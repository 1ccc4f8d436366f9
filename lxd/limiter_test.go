package lxd

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/clock/clocktest"
)

// zeros is an endless source.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestLimiterSharedByTwoStreams reads two endless streams through one
// Limiter on a fake clock: at every step the bytes both passed together
// stay within the cap (one burst plus rate × elapsed), and both streams
// move.
func TestLimiterSharedByTwoStreams(t *testing.T) {
	const rate = 100 << 10 // 100 KiB/s: burst 64 KiB
	clk := clocktest.NewFake()
	lim := newLimiterClock(rate, clk)
	ctx, cancel := context.WithCancel(context.Background())
	var counts [2]atomic.Int64
	var wg sync.WaitGroup
	for i := range counts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := lim.Reader(ctx, zeros{})
			buf := make([]byte, 32<<10)
			for {
				n, err := r.Read(buf)
				counts[i].Add(int64(n))
				if err != nil {
					return
				}
			}
		}()
	}
	const step, steps = 100 * time.Millisecond, 50
	for s := 1; s <= steps; s++ {
		clk.BlockUntil(t, 2) // both streams wait for tokens
		total := counts[0].Load() + counts[1].Load()
		elapsed := time.Duration(s-1) * step
		if bound := int64(relayBurst) + int64(rate*elapsed.Seconds()) + 2*32<<10; total > bound {
			t.Fatalf("after %s both streams passed %d bytes, over the cap's %d", elapsed, total, bound)
		}
		clk.Advance(step)
	}
	clk.BlockUntil(t, 2)
	cancel()
	clk.Advance(time.Hour) // wake the waiters; their ctx is done
	wg.Wait()
	total := counts[0].Load() + counts[1].Load()
	if want := int64(rate * (steps * step).Seconds() / 2); total < want {
		t.Errorf("both streams passed %d bytes in %s, want at least %d (half the cap)", total, steps*step, want)
	}
	for i := range counts {
		if counts[i].Load() == 0 {
			t.Errorf("stream %d passed nothing: the cap starved it", i)
		}
	}
}

func TestLimiterSetRate(t *testing.T) {
	lim := NewLimiter(0)
	if lim.Rate() != 0 || lim.Burst() != relayBurst {
		t.Errorf("uncapped limiter: rate %d burst %d, want 0 and %d", lim.Rate(), lim.Burst(), relayBurst)
	}
	lim.SetRate(1000)
	if lim.Rate() != 1000 || lim.Burst() != 1000 {
		t.Errorf("after SetRate(1000): rate %d burst %d, want 1000 and 1000", lim.Rate(), lim.Burst())
	}
	r := lim.Reader(context.Background(), io.LimitReader(zeros{}, 10))
	if b, err := io.ReadAll(r); err != nil || len(b) != 10 {
		t.Errorf("read %d bytes, %v; want 10", len(b), err)
	}
}
