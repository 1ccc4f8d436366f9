package probe

import (
	"context"
	"time"
)

// watch probes one target until ctx ends and sends each hysteresis change.
// The next probe starts one interval after the previous one started (or
// sooner, by the fast re-probe: nextStart), or at once when the previous
// one took longer: a slow probe delays the schedule, probes of one target
// never overlap or pile up.
func (m *Engine) watch(ctx context.Context, t Target, out chan<- change) {
	probe := m.probers[t.Kind]
	h := newHysteresis(t.Fails, t.Passes)
	if !m.sleep(ctx, m.opts.Jitter(t.Interval)) {
		return
	}
	failing := false    // up, and the latest probe failed (told to the evaluator)
	var first time.Time // when the first failed probe of the current run started
	for {
		start := m.opts.Clock.Now()
		err := m.probeOnce(ctx, &t, probe)
		if ctx.Err() != nil {
			return // a probe cut short by shutdown says nothing about the target
		}
		if h.observe(err == nil) {
			m.opts.Metrics.setUp(t.Name, h.up)
			if h.up {
				m.log.Info("target up", "target", t.Name, "kind", t.Kind)
			} else {
				m.log.Warn("target down", "target", t.Name, "kind", t.Kind, "reason", err.Error())
			}
			failing = false
			select {
			case out <- change{target: t.Name, up: h.up, err: err}:
			case <-ctx.Done():
				return
			}
		} else if f := h.up && h.run > 0; f != failing {
			failing = f
			select {
			case out <- change{target: t.Name, up: true, soft: true, failing: f}:
			case <-ctx.Done():
				return
			}
		}
		if h.up && h.run == 1 {
			first = start
		}
		next, fast := nextStart(t.Timing, h, start, first)
		if fast {
			m.opts.Metrics.countFastReprobe(&t)
		}
		if !m.sleep(ctx, next.Sub(m.opts.Clock.Now())) {
			return
		}
	}
}

// nextStart is when the probe after the one that started at start begins,
// and whether the fast re-probe brought it forward. It is one interval
// later, except while the target is up and its latest probe failed (h.run
// failures in a row, the first of them started at first): then it is one
// fast interval later, so that the fails failures take about one interval
// instead of fails-1. The probe that would make the target down never
// starts sooner than one interval after the run's first failure: by then
// every other target of the same hypervisor has been probed at least once
// since the same death, as without the fast re-probe, which the settle
// window's quiet-host fast path relies on (settle.go). So with fails: 2
// the fast re-probe changes nothing, and with fails: 3 every fast interval
// up to half the interval crosses the threshold at the same moment.
func nextStart(t Timing, h *hysteresis, start, first time.Time) (time.Time, bool) {
	regular := start.Add(t.Interval)
	if !h.up || h.run == 0 || t.FastInterval <= 0 || t.FastInterval >= t.Interval {
		return regular, false
	}
	next := start.Add(t.FastInterval)
	if h.run+1 >= h.fails { // the next failure crosses the threshold
		next = later(next, first.Add(t.Interval))
	}
	return next, next.Before(regular)
}

// later is the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// probeOnce runs one probe under the target's timeout and records it.
func (m *Engine) probeOnce(ctx context.Context, t *Target, probe ProbeFunc) error {
	pctx, cancel := context.WithTimeout(ctx, t.Timeout)
	defer cancel()
	began := time.Now()
	err := probe(pctx, *t)
	m.opts.Metrics.observeProbe(t, time.Since(began).Seconds(), err)
	return err
}

// sleep waits d on the monitor's clock; false means ctx ended.
func (m *Engine) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	select {
	case <-ctx.Done():
		return false
	case <-m.opts.Clock.After(d):
		return true
	}
}
