package capacity_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor/capacity"
	"github.com/understudy/understudy/monitor/capacity/capacitytest"
	"github.com/understudy/understudy/standby"
)

// TestSpareSamples: every spare with an agent is sampled, a failed sample
// is kept (as unknown), a spare without an agent is never asked, and a
// spare that left the inventory is forgotten; a hung agent is cut off.
func TestSpareSamples(t *testing.T) {
	spares := []inventory.Spare{
		{Name: "s1", Agent: "https://127.0.0.1:1"},
		{Name: "s2", Agent: "https://127.0.0.1:2"}, // fails
		{Name: "s3"}, // no agent: never asked
	}
	src := capacitytest.New()
	src.Set("s1", 2, 3, 0.4)
	sc := capacity.NewSpares()
	ctx := context.Background()

	sc.Sample(ctx, src, spares)
	got := sc.Samples()
	if steal, load, why := got["s1"].StealAndLoad(); why != "" || steal != 3 || load != 0.2 {
		t.Errorf("s1 = %v%%, %v per CPU, unknown %q; want 3%%, 0.2", steal, load, why)
	}
	if _, _, why := got["s2"].StealAndLoad(); !strings.Contains(why, "connection refused") {
		t.Errorf("s2: %q, want the agent's error", why)
	}
	if _, ok := got["s3"]; ok || src.Count("s3") != 0 {
		t.Error("s3 has no agent but was sampled")
	}

	sc.Sample(ctx, src, spares[:1]) // s2 left the inventory
	if got := sc.Samples(); len(got) != 1 || src.Count("s1") != 2 {
		t.Errorf("after s2 left: samples %v, s1 asked %d times; want s1 alone, asked twice", got, src.Count("s1"))
	}

	src.Block(true)
	sc.Sample(ctx, src, spares[:1])
	if _, _, why := sc.Samples()["s1"].StealAndLoad(); !strings.Contains(why, "deadline exceeded") {
		t.Errorf("hung agent: %q, want it cut off at the sample timeout", why)
	}
}

func TestSpareLoad(t *testing.T) {
	tests := []struct {
		name         string
		s            capacity.Sample
		steal, load1 float64
		unknown      string
	}{
		{"per CPU", capacity.Sample{Cap: standby.Capacity{CPUs: 4, StealPercent: 7.5, StealIntervalMS: 5000, Load: [3]float64{2, 1, 1}}}, 7.5, 0.5, ""},
		{"error", capacity.Sample{Err: errors.New("boom")}, 0, 0, "no answer from its agent: boom"},
		{"no CPUs", capacity.Sample{Cap: standby.Capacity{StealIntervalMS: 5000}}, 0, 0, "its agent reported no CPUs"},
		{"steal not sampled", capacity.Sample{Cap: standby.Capacity{CPUs: 2, Load: [3]float64{1, 1, 1}}}, 0, 0, "its agent has not sampled CPU steal yet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			steal, load1, why := tt.s.StealAndLoad()
			if steal != tt.steal || load1 != tt.load1 || why != tt.unknown {
				t.Errorf("StealAndLoad = %v, %v, %q; want %v, %v, %q", steal, load1, why, tt.steal, tt.load1, tt.unknown)
			}
		})
	}
}
