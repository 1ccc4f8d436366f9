package inventory_test

import (
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/inventory"
)

// TestFastInterval: monitor.fast-interval defaults to interval/(fails-1)
// with the timeout as a floor (off with fails 2), 0s turns it off, and one
// longer than the interval or negative is refused with its place.
func TestFastInterval(t *testing.T) {
	const timing = "  interval: 250ms\n  timeout: 100ms\n  fails: 3 " // examples/minimal.yaml's
	cases := []struct {
		name   string
		timing string // what replaces minimal.yaml's timing lines
		want   time.Duration
	}{
		{"default: interval/(fails-1)", timing, 125 * time.Millisecond},
		{"timeout floor", "  interval: 1s\n  timeout: 400ms\n  fails: 5 ", 400 * time.Millisecond},
		{"fails 2: off (the interval)", "  interval: 250ms\n  timeout: 100ms\n  fails: 2 ", 250 * time.Millisecond},
		{"fails 1: off (the interval)", "  interval: 250ms\n  timeout: 100ms\n  fails: 1 ", 250 * time.Millisecond},
		{"0s: off", timing + "\n  fast-interval: 0s\n ", 0},
		{"written", timing + "\n  fast-interval: 50ms\n ", 50 * time.Millisecond},
		{"equal to the interval", timing + "\n  fast-interval: 250ms\n ", 250 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			inv, err := inventory.Load(editedMinimal(t, timing, c.timing))
			if err != nil {
				t.Fatal(err)
			}
			if got := inv.Monitor.FastInterval; got != c.want {
				t.Errorf("fast-interval = %s, want %s", got, c.want)
			}
		})
	}
	if got := inventory.DefaultFastInterval(time.Second, 500*time.Millisecond, 3); got != 500*time.Millisecond {
		t.Errorf("default for 1s, 500ms, fails 3 = %s, want 500ms", got)
	}
	for _, bad := range []struct{ edit, want string }{
		{"  fast-interval: 300ms\n", "inv.yaml:20:18: monitor.fast-interval: must be from 0s (off) to monitor.interval (250ms), got 300ms"},
		{"  fast-interval: -1s\n", "inv.yaml:20:18: monitor.fast-interval: duration -1s must not be negative"},
	} {
		_, err := inventory.Load(editedMinimal(t, "  timeout: 100ms\n", "  timeout: 100ms\n"+bad.edit))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: %v, want %q", bad.edit, err, bad.want)
		}
	}
}
