package recover

import "github.com/understudy/understudy/playbooks"

// The failover hold: a failover's placement says FailingOver from the
// confirmed failure (the first step after confirm) until the DNS flip
// replaces it with the standby's, so that every proxy holds the service's
// requests for as long as the playbook runs instead of its own short
// hold. A failover that sticks before the flip never stays held: its
// placement says Unavailable, and why, when the primary cannot serve
// (fenced) or the standby refused the service (unprotected), so proxies
// answer at once with an error rather than keep clients waiting.

// holdFailover marks the placement failing over, with the machine's epoch:
// a primary's placement from before any incident has none (the monitor's
// snapshot shows it with the monitor's own), and a proxy ignores a
// placement older than the one it has.
func (m *Machine) holdFailover() {
	p := &m.rec.Placement
	p.FailingOver, p.Unavailable = true, ""
	p.Epoch = max(p.Epoch, m.cfg.Epoch)
}

// endFailoverHold ends the hold of a failover that sticks (after
// inc.Stuck is set): a held placement turns Unavailable when the standby
// refused the service or its primary is fenced; otherwise the proxies'
// own checks decide, as before the failure.
func (m *Machine) endFailoverHold() {
	p := &m.rec.Placement
	held := p.FailingOver
	p.FailingOver = false
	if !held {
		return
	}
	inc := m.rec.Incident
	switch r := inc.UnprotectedReason(); {
	case r != "":
		p.Unavailable = clip(ErrUnprotected.Error()+": "+r, MaxTextBytes)
	case m.fenceDone():
		p.Unavailable = clip("stuck: "+inc.Stuck, MaxTextBytes)
	}
}

// fenceDone reports whether the open incident fenced the primary.
func (m *Machine) fenceDone() bool {
	for _, s := range m.rec.Incident.Steps {
		if s.Kind == playbooks.Fence && s.Status == StatusDone {
			return true
		}
	}
	return false
}

// rearmFailoverHold holds the placement again when a stuck failover runs
// its stuck step again (stuckIn is the state it stuck in) and DNS was
// never flipped.
func (m *Machine) rearmFailoverHold(stuckIn State) {
	inc := m.rec.Incident
	if inc.Kind == KindFailover && inc.Reset == nil && stuckIn == FailingOver && m.rec.Placement.Where == AtPrimary {
		m.holdFailover()
	}
}

// primaryChecked clears Unavailable once a reset's check found the
// primary serving again (step i is the reset's wait-healthy).
func (m *Machine) primaryChecked(i int) {
	if m.resetStep(i) {
		m.rec.Placement.Unavailable = ""
	}
}
