package recover

import (
	"fmt"
	"time"
)

// A flow is what differs between the machine's kinds of incident: where a
// DNS flip points the service, how the incident ends after its last step,
// and what a step's final failure does once the cases every kind shares
// (a reset's step, notify, fence) are handled. A failover and a move
// (migration, failback, an operator's reset from the standby or a spare)
// each have one; the machine looks the incident's up instead of branching
// on its kind. Their state changes are in failoverTransitions and
// moveTransitions.
type flow interface {
	place(m *Machine, at time.Time) Placement
	finish(m *Machine, now time.Time) ([]Action, error)
	fail(m *Machine, i int, s *StepRecord, now time.Time, msg string) ([]Action, error)
}

// failoverFlow takes a service from its primary to the standby.
type failoverFlow struct{}

func (failoverFlow) place(m *Machine, at time.Time) Placement { return m.standbyPlacement(at) }
func (failoverFlow) finish(m *Machine, now time.Time) ([]Action, error) {
	return m.finishFailover(now)
}
func (failoverFlow) fail(m *Machine, i int, s *StepRecord, now time.Time, msg string) ([]Action, error) {
	return m.failFailover(i, s, now, msg)
}

// moveFlow takes a service from the standby to a spare, or back to its
// primary, and aborts back to where it began when a step fails before the
// DNS swap.
type moveFlow struct{}

func (moveFlow) place(m *Machine, at time.Time) Placement           { return m.heldMovePlacement(at) }
func (moveFlow) finish(m *Machine, now time.Time) ([]Action, error) { return m.finishMove(now) }
func (moveFlow) fail(m *Machine, i int, s *StepRecord, now time.Time, msg string) ([]Action, error) {
	return m.failMove(i, s, now, msg)
}

// flows maps an incident's Kind to its flow.
var flows = map[string]flow{
	KindFailover: failoverFlow{},
	KindMigrate:  moveFlow{},
	KindFailback: moveFlow{},
	KindReset:    moveFlow{},
}

// flow returns the flow of the open or last incident (a failover's when
// there is none, or when its kind is unknown).
func (m *Machine) flow() flow {
	if inc := m.rec.Incident; inc != nil {
		if f, ok := flows[inc.Kind]; ok {
			return f
		}
	}
	return failoverFlow{}
}

// standbyPlacement is where a failover's DNS flip points the service: its
// container on the standby.
func (m *Machine) standbyPlacement(at time.Time) Placement {
	return Placement{
		Service: m.rec.Service, Where: AtStandby, Host: m.cfg.Service.Standby,
		Address: m.rec.Incident.To, Since: at, Epoch: m.cfg.Epoch,
	}
}

// heldMovePlacement is where a move's DNS flip points the service, keeping
// the hold: the release step ends it, at the new place.
func (m *Machine) heldMovePlacement(at time.Time) Placement {
	p := m.movePlacement(at)
	p.Held = m.rec.Placement.Held
	return p
}

// finishFailover ends a failover's playbook on the standby.
func (m *Machine) finishFailover(now time.Time) ([]Action, error) {
	if err := m.arrive(); err != nil {
		return nil, err
	}
	if m.rec.Placement.Where != AtStandby {
		m.place(now)
	}
	m.rec.Moves = append(m.rec.Moves, now)
	m.phase(PhaseOnStandby, now)
	m.close(now, ResultRecovered)
	return nil, nil
}

// failFailover handles the final failure of a failover's step i: the
// incident sticks for an operator.
func (m *Machine) failFailover(_ int, s *StepRecord, now time.Time, msg string) ([]Action, error) {
	return m.stickWith(now, fmt.Sprintf("step %s failed after %d attempt(s): %s", s.Kind, s.Attempt, msg))
}
