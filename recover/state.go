package recover

import (
	"errors"
	"fmt"
	"slices"
)

// State is where a service is in its recovery life cycle.
type State int

// The states. Migrating, OnSpare and FailingBack belong to migration and
// failback incidents (see moves.go).
const (
	Primary     State = iota // served by its primary VM
	Suspect                  // an incident is open; the failure is being confirmed
	FailingOver              // confirmed; the playbook is running
	OnStandby                // served by its container in the shared standby VM
	Migrating                // moving from the standby to a spare
	OnSpare                  // served by a dedicated spare VM
	FailingBack              // moving back to the primary
	Stuck                    // a step failed for good; an operator must act
)

var stateNames = [...]string{"primary", "suspect", "failing-over", "on-standby", "migrating", "on-spare", "failing-back", "stuck"}

// String returns the state's name as the API and the status table show it.
func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return fmt.Sprintf("state(%d)", int(s))
	}
	return stateNames[s]
}

// MarshalText writes the state's name.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a state's name.
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if n == string(b) {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("unknown state %q", b)
}

// Errors callers branch on.
var (
	// ErrIllegalTransition: the event does not apply in the service's state
	// (a trigger while on-standby, a reset while primary, ...).
	ErrIllegalTransition = errors.New("illegal transition")
	// ErrStale: the event is a result for a step attempt that is no longer
	// current (it timed out, or the incident moved on). It is safe to drop.
	ErrStale = errors.New("stale event")
	// ErrPrecondition: a DNS compare-and-swap found the record holding
	// something else than expected. DNS adapters wrap their own error with it.
	ErrPrecondition = errors.New("dns precondition failed")
	// ErrPermanent: retrying cannot help (stale epoch, no capacity on the
	// standby). Adapters wrap such errors with it; the step is not retried.
	ErrPermanent = errors.New("permanent failure")
)

// The machine's two transition tables: one for failovers, one for moves
// (migrations, failbacks, and resets, which run as failbacks). Each
// transition function below takes its state change from the table of its
// flow; sticking, unsticking and an operator's reset belong to both.
var (
	// failoverTransitions: a failover's life cycle, from the primary to
	// the standby.
	failoverTransitions = map[State][]State{
		Primary:     {Suspect},
		Suspect:     {FailingOver, Primary, Stuck},
		FailingOver: {OnStandby, Stuck},
		Stuck:       {Suspect, FailingOver, Primary},
		OnStandby:   {Primary},
	}
	// moveTransitions: a move from the standby to a spare, or back to the
	// primary, and its abort back to where it began.
	moveTransitions = map[State][]State{
		OnStandby:   {Migrating, FailingBack},
		OnSpare:     {Primary, FailingBack},
		Migrating:   {OnSpare, OnStandby, Stuck},
		FailingBack: {Primary, OnStandby, OnSpare, Stuck},
		Stuck:       {Migrating, FailingBack},
	}
	// bothTransitions is for the transitions both flows take.
	bothTransitions = []map[State][]State{failoverTransitions, moveTransitions}
)

// take changes the state to to after checking that one of tables lists the
// transition.
func (m *Machine) take(to State, tables ...map[State][]State) error {
	from := m.rec.State
	for _, table := range tables {
		if slices.Contains(table[from], to) {
			m.rec.State = to
			return nil
		}
	}
	return fmt.Errorf("service %q: %s -> %s: %w", m.rec.Service, from, to, ErrIllegalTransition)
}

// The transitions, one function each.

// suspect opens the service's incident: primary -> suspect.
func (m *Machine) suspect() error { return m.take(Suspect, failoverTransitions) }

// failOver starts the playbook proper once the failure is confirmed:
// suspect -> failing-over.
func (m *Machine) failOver() error { return m.take(FailingOver, failoverTransitions) }

// standDown returns to primary when the vantage points disagree:
// suspect -> primary.
func (m *Machine) standDown() error { return m.take(Primary, failoverTransitions) }

// arrive ends the playbook on the standby: failing-over -> on-standby.
func (m *Machine) arrive() error { return m.take(OnStandby, failoverTransitions) }

// stick halts the incident for an operator:
// suspect|failing-over|migrating|failing-back -> stuck.
func (m *Machine) stick() error { return m.take(Stuck, bothTransitions...) }

// unstick resumes a stuck incident in the state it stuck in:
// stuck -> suspect|failing-over|migrating|failing-back.
func (m *Machine) unstick(to State) error { return m.take(to, bothTransitions...) }

// reset is the operator declaring the primary serves again:
// stuck|on-standby|on-spare -> primary.
func (m *Machine) reset() error { return m.take(Primary, bothTransitions...) }

// migrate starts a migration: on-standby -> migrating.
func (m *Machine) migrate() error { return m.take(Migrating, moveTransitions) }

// failBack starts a failback: on-standby|on-spare -> failing-back.
func (m *Machine) failBack() error { return m.take(FailingBack, moveTransitions) }

// settle ends a migration or failback where its incident says: on the
// spare or the primary when it completed, back where it began when it
// aborted.
func (m *Machine) settle(to State) error { return m.take(to, moveTransitions) }
