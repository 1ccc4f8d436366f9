package proxy

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestRTTEstimatorFollowsRFC6298 feeds random RTTs and compares the
// timeout with RFC 6298's formulas evaluated in floating point.
func TestRTTEstimatorFollowsRFC6298(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var e rttEstimator
	var srtt, rttvar float64
	const floor, limit = 10 * time.Microsecond, time.Second
	for i := range 200 {
		r := time.Duration(20_000 + rng.IntN(2_000_000)) // 20 µs .. 2 ms
		e.observe(r)
		if i == 0 {
			srtt, rttvar = float64(r), float64(r)/2
		} else {
			rttvar = 0.75*rttvar + 0.25*math.Abs(srtt-float64(r))
			srtt = 0.875*srtt + 0.125*float64(r)
		}
		want := min(max(srtt+4*rttvar, float64(floor)), float64(limit))
		// The integer shifts truncate: allow a few ns per sample.
		if got := float64(e.timeout(floor, limit)); math.Abs(got-want) > float64(10*(i+1)) {
			t.Fatalf("sample %d (%v): timeout %v, want %v", i, r, time.Duration(got), time.Duration(want))
		}
	}
}

func TestRTTEstimatorBounds(t *testing.T) {
	var e rttEstimator
	if got := e.timeout(time.Millisecond, 10*time.Millisecond); got != 10*time.Millisecond {
		t.Errorf("before any sample: timeout %v, want the cap 10ms", got)
	}
	e.observe(20 * time.Microsecond)
	if got := e.timeout(2*time.Millisecond, 10*time.Millisecond); got != 2*time.Millisecond {
		t.Errorf("20 µs RTT: timeout %v, want the floor 2ms", got)
	}
	if got := e.timeout(20*time.Millisecond, 10*time.Millisecond); got != 10*time.Millisecond {
		t.Errorf("floor above the cap: timeout %v, want the cap 10ms", got)
	}
	e.observe(50 * time.Millisecond)
	if got := e.timeout(time.Millisecond, 10*time.Millisecond); got != 10*time.Millisecond {
		t.Errorf("50 ms RTT: timeout %v, want the cap 10ms", got)
	}
}

// TestRTTEstimatorBacksOff: each missed first echo doubles the timeout
// (up to the cap) until the next answer resets it.
func TestRTTEstimatorBacksOff(t *testing.T) {
	var e rttEstimator
	e.observe(20 * time.Microsecond)
	const floor, limit = time.Millisecond, 10 * time.Millisecond
	base := e.timeout(floor, limit)
	e.missed()
	if got := e.timeout(floor, limit); got != 2*base {
		t.Errorf("after one miss: %v, want %v", got, 2*base)
	}
	for range 20 {
		e.missed()
	}
	if got := e.timeout(floor, limit); got != limit {
		t.Errorf("after many misses: %v, want the cap %v", got, limit)
	}
	e.observe(20 * time.Microsecond)
	if got := e.timeout(floor, limit); got != base {
		t.Errorf("after an answer: %v, want %v again", got, base)
	}
}
