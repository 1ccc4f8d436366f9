package probe

import (
	"context"
	"time"
)

// watch probes one target until ctx ends and sends each hysteresis change.
// The next probe starts one interval after the previous one started, or at
// once when the previous one took longer: a slow probe delays the schedule,
// probes of one target never overlap or pile up.
func (m *Engine) watch(ctx context.Context, t Target, out chan<- change) {
	probe := m.probers[t.Kind]
	h := newHysteresis(t.Fails, t.Passes)
	if !m.sleep(ctx, m.opts.Jitter(t.Interval)) {
		return
	}
	failing := false // up, and the latest probe failed (told to the evaluator)
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
		if !m.sleep(ctx, start.Add(t.Interval).Sub(m.opts.Clock.Now())) {
			return
		}
	}
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
