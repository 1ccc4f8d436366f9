package recover

import "fmt"

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
	w := "fence-stop: the primary stays frozen; its force-stop failed: " + ev.Err
	inc.Warnings = append(inc.Warnings, w)
	return []Action{Alert{Incident: inc.ID, Service: m.rec.Service, Kind: AlertFenceStop, Reason: w}}, nil
}

// incidentID names the last incident, or "none".
func incidentID(inc *Incident) string {
	if inc == nil {
		return "none"
	}
	return inc.ID
}
