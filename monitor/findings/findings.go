// Package findings holds the failures a monitor knows of that no leader
// has taken yet (a set by service, safe for concurrent use). Package
// monitor opens them, passes them on whenever a leadership starts, and
// closes them once a leader took them or the service recovered.
package findings

import (
	"sort"
	"sync"
	"time"

	"github.com/understudy/understudy/recover"
)

// Set holds the failures this monitor knows of that no leader has
// taken yet: a failure its monitor confirmed (the monitor reports a
// finding once) and a proxy's suspect report that arrived while no monitor
// led (a proxy reports once per hold). A finding that waits more than the
// 30 s a trigger is tried for would otherwise be lost; instead, whenever a
// leadership starts (this monitor's term, or another leader observed), the
// open findings are passed on again (package monitor's passOnFindings). A monitor finding
// closes when the monitor sees the service recover; any finding closes once
// a leader took it (or refused it in the service's state).
type Set struct {
	mu   sync.Mutex
	open map[string]Finding // by service
}

// Finding is one open failure of a service.
type Finding struct {
	Source recover.Source // FromMonitor or FromProxy
	Reason string
	At     time.Time
}

// New returns an empty set. Safe for concurrent use.
func New() *Set { return &Set{open: map[string]Finding{}} }

// Add opens (or refreshes) the finding of svc.
func (f *Set) Add(svc string, src recover.Source, reason string, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if old, ok := f.open[svc]; ok && old.Source == recover.FromMonitor && src != recover.FromMonitor {
		return // the monitor's own finding says more than a proxy's
	}
	f.open[svc] = Finding{Source: src, Reason: reason, At: at}
}

// Close forgets the findings of svcs.
func (f *Set) Close(svcs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range svcs {
		delete(f.open, s)
	}
}

// Taken closes svc's finding if it is still the one passed on.
func (f *Set) Taken(svc string, was Finding) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if cur, ok := f.open[svc]; ok && cur == was {
		delete(f.open, svc)
	}
}

// List returns the open findings, by service name.
func (f *Set) List() ([]string, map[string]Finding) {
	f.mu.Lock()
	defer f.mu.Unlock()
	names := make([]string, 0, len(f.open))
	out := make(map[string]Finding, len(f.open))
	for s, fd := range f.open {
		names = append(names, s)
		out[s] = fd
	}
	sort.Strings(names)
	return names, out
}
