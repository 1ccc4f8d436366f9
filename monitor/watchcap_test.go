package monitor

import (
	"testing"

	"github.com/understudy/understudy/recover/store"
)

// TestWatchCapBelowConnCap: the store refuses placement streams (503) at
// most at half the API's connection cap, so streams, which need no
// credential on a loopback API, cannot take every connection from suspect,
// failover and reset. (The store refusing past its cap is
// recover.TestPlacementWatchCapAndEviction.)
func TestWatchCapBelowConnCap(t *testing.T) {
	if apiLimits.MaxConns <= 0 {
		t.Fatalf("the API's connection cap is httpserve's default, not stated (%d); state it so it can be compared", apiLimits.MaxConns)
	}
	if 2*store.DefaultMaxWatchers > apiLimits.MaxConns {
		t.Errorf("placement watchers %d against %d API connections: want at most half", store.DefaultMaxWatchers, apiLimits.MaxConns)
	}
}
