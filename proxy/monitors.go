package proxy

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Monitors is a Monitor over several monitor daemons that share one etcd
// (package ha): any of them serves the placement stream from the shared
// store, and takes suspect reports (a follower forwards them to the
// leader). So the proxy keeps working while one monitor is down.
//
// A stream that breaks moves the next stream to the next monitor in the
// list; a report that fails is tried at the next monitor at once, and the
// monitor that took it is where the next report starts.
type Monitors struct {
	list []Monitor

	mu  sync.Mutex
	cur int
}

var _ Monitor = (*Monitors)(nil)

// NewMonitors returns a Monitor over list, which must not be empty.
func NewMonitors(list ...Monitor) (*Monitors, error) {
	if len(list) == 0 {
		return nil, errors.New("new monitors: no monitor")
	}
	return &Monitors{list: list}, nil
}

func (m *Monitors) current() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cur
}

// moveOn makes the monitor after i current, unless another call did so.
func (m *Monitors) moveOn(i int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur == i {
		m.cur = (i + 1) % len(m.list)
	}
}

// WatchPlacements implements Monitor with the current monitor; when its
// stream ends for any reason but ctx, the next call uses the next one.
func (m *Monitors) WatchPlacements(ctx context.Context, fn func(Placement)) error {
	i := m.current()
	err := m.list[i].WatchPlacements(ctx, fn)
	if ctx.Err() == nil {
		m.moveOn(i)
	}
	if len(m.list) > 1 {
		return fmt.Errorf("monitor %d of %d: %w", i+1, len(m.list), err)
	}
	return err
}

// ReportSuspect implements Monitor: it tries every monitor once, from the
// current one on, and fails only when none took the report.
func (m *Monitors) ReportSuspect(ctx context.Context, service string, r SuspectReport) error {
	return m.each(ctx, func(mon Monitor) error { return mon.ReportSuspect(ctx, service, r) })
}
