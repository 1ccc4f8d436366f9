package spares

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// series returns samples every 15s from t0, one per (steal, load1) pair, on 2 CPUs.
func series(pairs ...[2]float64) []Sample {
	out := make([]Sample, len(pairs))
	for i, p := range pairs {
		out[i] = Sample{At: t0.Add(time.Duration(i) * 15 * time.Second), Steal: p[0], Load1: p[1], CPUs: 2}
	}
	return out
}

func repeat(n int, p [2]float64) [][2]float64 {
	out := make([][2]float64, n)
	for i := range out {
		out[i] = p
	}
	return out
}

func TestOverloaded(t *testing.T) {
	hot := [2]float64{30, 5}       // steal 30%, load 2.5 per CPU
	stealOnly := [2]float64{30, 1} // load 0.5 per CPU: nothing queues
	loadOnly := [2]float64{2, 8}
	th := Thresholds{Steal: 10, Load: 1, Window: time.Minute}
	tests := []struct {
		name    string
		history []Sample
		now     time.Duration // after t0
		want    bool
		why     string
	}{
		{"no samples", nil, 0, false, "no samples"},
		{"sustained over the window", series(repeat(5, hot)...), 60 * time.Second, true, "for 1m0s"},
		{"not yet the window", series(repeat(4, hot)...), 45 * time.Second, false, "for 45s only"},
		{"steal alone is not a reason", series(repeat(9, stealOnly)...), 120 * time.Second, false, "work is not queueing"},
		{"load alone is not a reason", series(repeat(9, loadOnly)...), 120 * time.Second, false, "steal 2% <= 10%"},
		{"a calm sample restarts the window", series(append(append(repeat(4, hot), stealOnly), repeat(4, hot)...)...), 120 * time.Second, false, "for 45s only"},
		{"stale data", series(repeat(9, hot)...), 10 * time.Minute, false, "no sample for"},
		{"recovered now", series(append(repeat(8, hot), [2]float64{1, 0.2})...), 120 * time.Second, false, "steal 1% <= 10%"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := Overloaded(tt.history, th, t0.Add(tt.now))
			if got != tt.want || !strings.Contains(why, tt.why) {
				t.Fatalf("Overloaded = %v %q, want %v with %q", got, why, tt.want, tt.why)
			}
		})
	}
}

func TestOverloadedGapBreaksTheRun(t *testing.T) {
	th := Thresholds{Steal: 10, Load: 1, Window: time.Minute, MaxGap: 20 * time.Second}
	h := []Sample{
		{At: t0, Steal: 50, Load1: 4, CPUs: 1},
		{At: t0.Add(50 * time.Second), Steal: 50, Load1: 4, CPUs: 1}, // 50s without data
		{At: t0.Add(65 * time.Second), Steal: 50, Load1: 4, CPUs: 1},
	}
	if got, why := Overloaded(h, th, t0.Add(70*time.Second)); got {
		t.Fatalf("overloaded across a gap: %s", why)
	}
}

func TestDetectorKeepsBoundedHistory(t *testing.T) {
	d := NewDetector(Thresholds{Window: time.Minute})
	for i := range 100 {
		d.Add(Sample{At: t0.Add(time.Duration(i) * 10 * time.Second), Steal: 20, Load1: 3, CPUs: 1})
	}
	d.Add(Sample{At: t0, Steal: 0}) // out of order: dropped
	if n := len(d.samples); n > 13 {
		t.Errorf("kept %d samples for a 1m window at 10s intervals", n)
	}
	got, why := d.Overloaded(t0.Add(990 * time.Second))
	if !got {
		t.Errorf("not overloaded: %s", why)
	}
}

// cpuSeries returns samples every 15s from t0 with these CPU uses and no
// steal (a standby saturated by its own recovered containers).
func cpuSeries(cpu ...float64) []Sample {
	out := make([]Sample, len(cpu))
	for i, c := range cpu {
		out[i] = Sample{At: t0.Add(time.Duration(i) * 15 * time.Second), CPUPercent: c, CPUs: 2}
	}
	return out
}

// TestLoadTriggerWithHysteresis: the load trigger fires on CPU use above
// its threshold for the window with no steal at all, stays fired while the
// use stays above 90 % of the threshold, and clears below it; it then
// needs a new full window.
func TestLoadTriggerWithHysteresis(t *testing.T) {
	th := Thresholds{Trigger: TriggerLoad, CPU: 80, Window: time.Minute}
	d := NewDetector(th)
	var v Verdict
	for i, s := range cpuSeries(92, 92, 92, 92, 92, 75, 70, 92) {
		d.Add(s)
		v = d.Check(s.At)
		switch {
		case i < 4 && (v.Overloaded || v.State != StateRising):
			t.Fatalf("sample %d: %+v before the window passed", i, v)
		case i == 4 && (!v.Overloaded || !strings.Contains(v.Why, "CPU 92 % over 60 s (threshold 80 %)")):
			t.Fatalf("sample %d: %+v, want fired after 1m of 92 %%", i, v)
		case i == 5 && (!v.Overloaded || !strings.Contains(v.Why, "clears below CPU 72 %")):
			t.Fatalf("75 %% (above the clear level 72 %%): %+v, want still fired", v)
		case i == 6 && (v.Overloaded || v.State != StateBelow):
			t.Fatalf("70 %%: %+v, want cleared", v)
		case i == 7 && (v.Overloaded || v.State != StateRising):
			t.Fatalf("92 %% again: %+v, want a new window", v)
		}
	}
	if ok, why := Overloaded(cpuSeries(92, 92, 92, 92, 92), Thresholds{Steal: 10, Load: 1, Window: time.Minute}, t0.Add(time.Minute)); ok {
		t.Errorf("steal-and-load fired on CPU use without steal: %s", why)
	}
}

// TestMemoryTrigger: memory in use above its threshold for the window.
func TestMemoryTrigger(t *testing.T) {
	th := Thresholds{Trigger: TriggerMemory, Memory: 85, Window: 30 * time.Second}
	var h []Sample
	for i := range 3 {
		h = append(h, Sample{At: t0.Add(time.Duration(i) * 15 * time.Second), MemoryPercent: 95})
	}
	if ok, why := Overloaded(h, th, t0.Add(30*time.Second)); !ok || !strings.Contains(why, "memory 95 % over 30 s (threshold 85 %)") {
		t.Errorf("memory 95 %% for 30s: %v %q", ok, why)
	}
}
