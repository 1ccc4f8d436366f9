package recover

import (
	"errors"
	"fmt"
	"strings"
)

// ErrFenceStopPending refuses a failback or reset to a primary the last
// failover's fence froze while its background force-stop has not ended:
// the stop would kill the primary the move sends clients to. It wraps
// ErrIllegalTransition (the API answers 409); the operator asks again once
// the incident shows fence-stop.
var ErrFenceStopPending = errors.New("the frozen primary is still being force-stopped (fence-stop)")

// onFenceStopped records how the background force-stop of the frozen
// primary ended, on the incident that froze it, open or closed: the
// fence-stop phase, or a warning and an alert. The state does not change:
// the failover stands, since a frozen primary neither serves nor writes.
func (m *Machine) onFenceStopped(ev FenceStopped) ([]Action, error) {
	inc := m.rec.Incident
	if inc == nil || inc.ID != ev.Incident || !inc.Frozen {
		return nil, fmt.Errorf("service %q: fence-stop result for incident %q, last is %v: %w", m.rec.Service, ev.Incident, incidentID(inc), ErrStale)
	}
	if _, done := inc.Phase(PhaseFenceStop); done {
		return nil, fmt.Errorf("service %q: incident %s: fence-stop already recorded: %w", m.rec.Service, inc.ID, ErrStale)
	}
	if ev.Err == "" {
		m.phase(PhaseFenceStop, ev.At)
		return nil, nil
	}
	w := fenceStopWarning + " the primary stays frozen; its force-stop failed: " + ev.Err
	inc.Warnings = append(inc.Warnings, w)
	return []Action{Alert{Incident: inc.ID, Service: m.rec.Service, Kind: AlertFenceStop, Reason: w}}, nil
}

// fenceStopWarning begins the warning of a failed background stop.
const fenceStopWarning = "fence-stop:"

// incidentID names the last incident, or "none".
func incidentID(inc *Incident) string {
	if inc == nil {
		return "none"
	}
	return inc.ID
}

// FenceStopPending reports whether the incident's fence froze the primary
// and its background force-stop has not ended (no fence-stop phase, no
// fence-stop warning).
func (i *Incident) FenceStopPending() bool {
	if i == nil || !i.Frozen {
		return false
	}
	if _, ok := i.Phase(PhaseFenceStop); ok {
		return false
	}
	for _, w := range i.Warnings {
		if strings.HasPrefix(w, fenceStopWarning) {
			return false
		}
	}
	return true
}

// refuseIfStopping refuses a move back to the primary while the last
// failover's force-stop of it is pending.
func (m *Machine) refuseIfStopping() error {
	if inc := m.rec.Incident; inc.FenceStopPending() {
		return fmt.Errorf("service %q: incident %s: %w: %w", m.rec.Service, inc.ID, ErrFenceStopPending, ErrIllegalTransition)
	}
	return nil
}
