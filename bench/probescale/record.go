package main

import (
	"context"
	"slices"
	"sync/atomic"
	"time"

	"github.com/understudy/understudy/monitor/probe"
)

// recorder wraps every probe to note when it started: the lateness of a
// start is how long after the target's schedule (one interval after its
// previous start) it came. Each target's slot is written only by that
// target's goroutine (the engine never overlaps probes of one target).
type recorder struct {
	idx   map[string]int
	slots []slot
	on    atomic.Bool
}

type slot struct {
	last     time.Time
	interval time.Duration
	kind     string
	late     []int32 // µs
	failed   int
	lastErr  string
}

func newRecorder(ts []probe.Target) *recorder {
	r := &recorder{idx: map[string]int{}, slots: make([]slot, len(ts))}
	for i, t := range ts {
		r.idx[t.Name] = i
		r.slots[i].interval = t.Interval
		r.slots[i].kind = string(t.Kind)
	}
	return r
}

func (r *recorder) setOn(on bool) { r.on.Store(on) }

func (r *recorder) wrap(f probe.ProbeFunc) probe.ProbeFunc {
	return func(ctx context.Context, t probe.Target) error {
		now := time.Now()
		s := &r.slots[r.idx[t.Name]]
		on := r.on.Load()
		if on && !s.last.IsZero() {
			s.late = append(s.late, int32(now.Sub(s.last.Add(s.interval)).Microseconds()))
		}
		s.last = now
		err := f(ctx, t)
		if on && err != nil {
			s.failed++
			s.lastErr = err.Error()
		}
		return err
	}
}

// counts returns the probes measured (started in the window after a
// previous one) and those that failed. Call once the window is over.
func (r *recorder) counts() (probes, failed int) {
	for i := range r.slots {
		probes += len(r.slots[i].late)
		failed += r.slots[i].failed
	}
	return probes, failed
}

// failures returns the failed probes per kind and one error of each kind.
func (r *recorder) failures() (map[string]int, map[string]string) {
	n, why := map[string]int{}, map[string]string{}
	for i := range r.slots {
		s := &r.slots[i]
		if s.failed > 0 {
			n[s.kind] += s.failed
			why[s.kind] = s.lastErr
		}
	}
	return n, why
}

// lateness returns the p50, p99 and max lateness in ms.
func (r *recorder) lateness() (p50, p99, mx float64) {
	var all []float64
	for i := range r.slots {
		for _, v := range r.slots[i].late {
			all = append(all, float64(v)/1000)
		}
	}
	if len(all) == 0 {
		return 0, 0, 0
	}
	sortF(all)
	return pct(all, 50), pct(all, 99), all[len(all)-1]
}

func sortF(v []float64) { slices.Sort(v) }

// pct is the p-th percentile of sorted v (nearest rank).
func pct(v []float64, p float64) float64 {
	i := int(float64(len(v))*p/100+0.5) - 1
	return v[max(0, min(i, len(v)-1))]
}
