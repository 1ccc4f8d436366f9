package main

import (
	"testing"
	"time"
)

func TestParseSpec(t *testing.T) {
	n, d, err := parseSpec("10000@250ms")
	if err != nil || n != 10000 || d != 250*time.Millisecond {
		t.Errorf("parseSpec = %d, %s, %v", n, d, err)
	}
	for _, bad := range []string{"1000", "x@1s", "1000@", "1000@-1s", "2@1s"} {
		if _, _, err := parseSpec(bad); err == nil {
			t.Errorf("parseSpec(%q) accepted", bad)
		}
	}
}

func TestPct(t *testing.T) {
	v := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, c := range []struct{ p, want float64 }{{50, 5}, {99, 10}, {100, 10}, {1, 1}} {
		if got := pct(v, c.p); got != c.want {
			t.Errorf("pct(%v) = %v, want %v", c.p, got, c.want)
		}
	}
}

func TestPassThrough(t *testing.T) {
	got := passThrough([]string{"-out", "x", "-window", "5s", "-deaths=3", "-points", "1000@1s"})
	want := []string{"-window", "5s", "-deaths=3"}
	if len(got) != len(want) {
		t.Fatalf("passThrough = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("passThrough = %v, want %v", got, want)
		}
	}
}
