package recover

import (
	"errors"
	"fmt"

	"github.com/understudy/understudy/playbooks"
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
	w := "fence-stop: the primary stays frozen; its force-stop failed: " + ev.Err
	inc.FenceStopFailed = true
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

// FenceStopPending reports whether the incident's fence froze the primary
// and its background force-stop has not ended (no fence-stop phase, not
// FenceStopFailed).
func (i *Incident) FenceStopPending() bool {
	if i == nil || !i.Frozen || i.FenceStopFailed {
		return false
	}
	_, stopped := i.Phase(PhaseFenceStop)
	return !stopped
}

// FenceStopDue reports whether the incident's background force-stop of the
// frozen primary was asked for (its DNS flip is recorded) and has not ended:
// a resumed executor asks for it again, also on a closed incident, or the
// stop a dead or deposed leader ran is lost and failback stays refused.
func (i *Incident) FenceStopDue() bool {
	if !i.FenceStopPending() {
		return false
	}
	if _, flipped := i.Phase(PhaseDNSFlipped); flipped {
		return true
	}
	// The phase list of a long incident is trimmed; its steps are not.
	for n, s := range i.Steps {
		if s.Kind == playbooks.DNSReplace && s.Status == StatusDone && (i.Reset == nil || n < i.Reset.First) {
			return true
		}
	}
	return false
}

// resumeFenceStop asks again for the force-stop of the frozen primary when
// it is due (FenceStopDue); the stop is idempotent.
func (m *Machine) resumeFenceStop() []Action {
	inc := m.rec.Incident
	if !inc.FenceStopDue() {
		return nil
	}
	return []Action{m.stopFenced()}
}

// stopFenced is the action that force-stops the primary the last
// incident's fence froze.
func (m *Machine) stopFenced() StopFenced {
	svc := m.cfg.Service
	return StopFenced{Incident: m.rec.Incident.ID, Service: m.rec.Service, Hypervisor: svc.Hypervisor, Instance: svc.Instance}
}

// refuseIfStopping refuses a move back to the primary while the last
// failover's force-stop of it is pending (asked for after the DNS flip and
// not ended; a stuck incident that never flipped asked for none).
func (m *Machine) refuseIfStopping() error {
	if inc := m.rec.Incident; inc.FenceStopDue() {
		return fmt.Errorf("service %q: incident %s: %w: %w", m.rec.Service, inc.ID, ErrFenceStopPending, ErrIllegalTransition)
	}
	return nil
}
