package probe

import (
	"strings"
	"testing"
)

func TestHysteresis(t *testing.T) {
	// results: "x" a failed probe, "." a passed one. states: the state after
	// each result, "U" up, "D" down.
	cases := []struct {
		name          string
		fails, passes int
		results       string
		states        string
	}{
		{"healthy stays up", 3, 2, "......", "UUUUUU"},
		{"blip shorter than fails is ignored", 3, 2, "xx.xx.", "UUUUUU"},
		{"fails in a row go down", 3, 2, "..xxx.", "UUUUDD"},
		{"passes in a row come back", 3, 2, "xxx..x", "UUDDUU"},
		{"a pass between fails restarts the count", 2, 1, "x.x.xx", "UUUUUD"},
		{"a fail while down restarts the pass count", 1, 3, "x..x...", "DDDDDDU"},
		{"fails 1 passes 1 follows every result", 1, 1, "x.x.", "DUDU"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHysteresis(c.fails, c.passes)
			var got strings.Builder
			for _, r := range c.results {
				h.observe(r == '.')
				if h.up {
					got.WriteByte('U')
				} else {
					got.WriteByte('D')
				}
			}
			if got.String() != c.states {
				t.Errorf("results %s with fails %d passes %d: states %s, want %s", c.results, c.fails, c.passes, got.String(), c.states)
			}
		})
	}
}

func TestHysteresisReportsOnlyChanges(t *testing.T) {
	h := newHysteresis(2, 2)
	var changes int
	for _, ok := range []bool{false, false, false, false, true, true, true} {
		if h.observe(ok) {
			changes++
		}
	}
	if changes != 2 {
		t.Errorf("changes = %d, want 2 (down once, up once)", changes)
	}
}
