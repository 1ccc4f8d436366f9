package recover

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/understudy/understudy/playbooks"
)

// Errors a reset's caller branches on.
var (
	// ErrPrimaryUnhealthy: a reset was refused because the primary failed
	// its service check; nothing was changed.
	ErrPrimaryUnhealthy = errors.New("the primary failed its check")
	// ErrDamped: flap damping refuses to move the service now.
	ErrDamped = errors.New("flap damping refuses the move")
)

// DefaultResetPlaybook is what an operator's reset runs, on a stuck
// incident or as an incident of its own: the primary's service check (a
// failure refuses the reset and changes nothing), the DNS swap back to the
// primary (a compare-and-swap from the address DNS may hold; skipped when
// that is the primary's), and the standby slot's (or spare copy's) reset.
func DefaultResetPlaybook() *playbooks.Playbook {
	return &playbooks.Playbook{Name: "reset", Steps: []playbooks.Step{
		{Kind: playbooks.WaitHealthy, Timeout: 5 * time.Second},
		{Kind: playbooks.DNSReplace, Timeout: 3 * time.Second,
			Retry: playbooks.Retry{Backoff: 200 * time.Millisecond, MaxBackoff: 5 * time.Second, Budget: time.Minute}},
		{Kind: StepVacate, Timeout: 15 * time.Second, Retry: playbooks.Retry{Attempts: 2, Backoff: time.Second}},
	}}
}

// onReset starts an operator's reset: an incident of its own from the
// standby or a spare, or the reset's steps on a stuck incident. Flap
// damping applies to it like to any move off the standby.
func (m *Machine) onReset(ev Reset) ([]Action, error) {
	switch m.rec.State {
	case OnStandby, OnSpare:
		if err := m.refuseIfStopping(); err != nil {
			return nil, err
		}
		if err := m.refuseIfFlapping(ev.At); err != nil {
			return nil, err
		}
		return m.openMove(ev.At, newTrigger(FromCLI, ev.Reason, ev.At), KindReset, "")
	case Stuck:
		if err := m.refuseIfStopping(); err != nil {
			return nil, err
		}
		return m.resetStuck(ev)
	}
	return nil, fmt.Errorf("service %q: %s -> %s: %w", m.rec.Service, m.rec.State, Primary, ErrIllegalTransition)
}

// refuseIfFlapping returns an ErrDamped error when the service moved too
// often within the flap window: an operator's reset or failback is refused
// like an automatic move is damped.
func (m *Machine) refuseIfFlapping(now time.Time) error {
	until, flapping := m.flapping(now)
	if !flapping {
		return nil
	}
	return fmt.Errorf("service %q: refused: %d moves within %s; it stays on %s until %s: %w",
		m.rec.Service, len(m.rec.Moves), m.cfg.Flap.Window, m.rec.Placement.Where, until.UTC().Format(time.RFC3339), ErrDamped)
}

// resetStuck appends the reset's steps to a stuck incident and runs them.
// A reset that stuck itself is started over.
func (m *Machine) resetStuck(ev Reset) ([]Action, error) {
	inc := m.rec.Incident
	run := ResetRun{Reason: clip(ev.Reason, MaxTextBytes), First: len(inc.Steps), Origin: m.rec.Placement,
		Stuck: inc.Stuck, StuckIn: inc.StuckIn, Current: inc.Current}
	run.From = m.resetFrom(run.First)
	if prev := inc.Reset; prev != nil {
		run.First, run.From, run.Origin = prev.First, prev.From, prev.Origin
		run.Stuck, run.StuckIn, run.Current = prev.Stuck, prev.StuckIn, prev.Current
	}
	if run.Origin.Where != AtPrimary {
		if err := m.refuseIfFlapping(ev.At); err != nil {
			return nil, err
		}
	}
	if err := m.unstick(FailingBack); err != nil {
		return nil, err
	}
	m.truncate(run.First)
	pb := *inc.Playbook
	for _, st := range DefaultResetPlaybook().Steps {
		pb.Steps = append(pb.Steps, st)
		inc.Steps = append(inc.Steps, StepRecord{Kind: st.Kind, Status: StatusPending, Note: "reset"})
	}
	inc.Playbook = &pb
	inc.Stuck, inc.StuckIn, inc.ResetRefused = "", 0, ""
	inc.Reset = &run
	m.noteTrigger(newTrigger(FromCLI, ev.Reason, ev.At))
	m.phase(PhaseReset, ev.At)
	return m.start(run.First, ev.At)
}

// resetFrom is the address DNS may hold for a stuck incident whose first n
// steps are its own: the placement's, or the address its dns-replace was
// swapping to when that was attempted and did not finish.
func (m *Machine) resetFrom(n int) netip.Addr {
	inc := m.rec.Incident
	from := m.rec.Placement.Address
	for _, s := range inc.Steps[:n] {
		if s.Kind == playbooks.DNSReplace && s.Attempt > 0 && s.Status != StatusDone && inc.To.IsValid() {
			from = inc.To
		}
	}
	return from
}

// truncate drops the incident's steps from n on (an earlier reset's).
func (m *Machine) truncate(n int) {
	inc := m.rec.Incident
	pb := *inc.Playbook
	pb.Steps = slices.Clone(pb.Steps[:n])
	inc.Playbook = &pb
	inc.Steps = inc.Steps[:n]
}

// resetStep reports whether step i of the incident is a reset's.
func (m *Machine) resetStep(i int) bool {
	inc := m.rec.Incident
	return inc != nil && inc.Reset != nil && i >= inc.Reset.First
}

// skipReset says why a reset skips a step.
func (m *Machine) skipReset(kind playbooks.Kind) string {
	inc := m.rec.Incident
	run := inc.Reset
	switch kind {
	case playbooks.DNSReplace:
		if !run.From.IsValid() || run.From == m.cfg.Service.Address {
			return "DNS already points at the primary"
		}
	case StepVacate:
		if run.Origin.Where != AtPrimary {
			return ""
		}
		for _, s := range inc.Steps[:run.First] {
			if s.Kind == playbooks.Activate && s.Attempt > 0 {
				return ""
			}
		}
		return "nothing was activated on the standby"
	}
	return ""
}

// primaryPlacement is the placement on the primary from at.
func (m *Machine) primaryPlacement(at time.Time) Placement {
	return Placement{Service: m.rec.Service, Where: AtPrimary, Host: m.cfg.Service.VM,
		Address: m.cfg.Service.Address, Since: at, Epoch: m.cfg.Epoch}
}

// finishReset ends a reset: the service is on its primary.
func (m *Machine) finishReset(now time.Time) ([]Action, error) {
	inc := m.rec.Incident
	if err := m.settle(Primary); err != nil {
		return nil, err
	}
	if p := m.rec.Placement; p.Where != AtPrimary || p.Since.IsZero() {
		m.rec.Placement = m.primaryPlacement(now)
	}
	if inc.Reset.Origin.Where != AtPrimary {
		m.rec.Moves = append(m.rec.Moves, now)
	}
	m.phase(PhaseOnPrimary, now)
	m.close(now, ResultReset)
	return nil, nil
}

// failReset handles the final failure of a reset's step i: a primary that
// fails its check refuses the reset; a failed standby reset, after DNS is
// back, raises an alert and the reset goes on; a failed DNS swap sticks.
func (m *Machine) failReset(i int, s *StepRecord, now time.Time, msg string) ([]Action, error) {
	inc := m.rec.Incident
	reason := fmt.Sprintf("step %s failed after %d attempt(s): %s", s.Kind, s.Attempt, msg)
	switch s.Kind {
	case playbooks.WaitHealthy:
		return m.refuseReset(now, fmt.Sprintf("the primary %s failed its check: %s", m.cfg.Service.Address, msg))
	case StepVacate:
		s.Note = "failed after DNS moved back; the service is on its primary"
		acts, err := m.start(i+1, now)
		alert := Alert{Incident: inc.ID, Service: m.rec.Service, Kind: AlertMove, Reason: "reset went on after a failed step: " + reason}
		return append([]Action{alert}, acts...), err
	}
	return m.stickWith(now, "reset: "+reason)
}

// refuseReset ends a reset that changed nothing: the service stays where
// it was, and a stuck incident is stuck as before.
func (m *Machine) refuseReset(now time.Time, why string) ([]Action, error) {
	inc := m.rec.Incident
	run := inc.Reset
	inc.ResetRefused = why
	inc.LastError = "reset refused: " + why
	m.phase(PhaseResetRefused, now)
	if inc.Kind == KindReset {
		back := OnStandby
		if run.Origin.Where == AtSpare {
			back = OnSpare
		}
		if err := m.settle(back); err != nil {
			return nil, err
		}
		m.rec.Placement = run.Origin
		for j := range inc.Steps {
			if inc.Steps[j].Status == StatusPending {
				inc.Steps[j].Status, inc.Steps[j].Note, inc.Steps[j].Finished = StatusSkipped, "reset refused", now
			}
		}
		inc.Aborted = "reset refused: " + why
		m.close(now, ResultAborted)
		return nil, nil
	}
	if err := m.stick(); err != nil {
		return nil, err
	}
	m.truncate(run.First)
	inc.Current, inc.Stuck, inc.StuckIn, inc.Reset = run.Current, run.Stuck, run.StuckIn, nil
	return nil, nil
}

// rearmable reports whether a new finding of the monitor may run a stuck
// failover's stuck step again: it must be a failover's own step that may
// run again (not one whose outcome is unknown, not a reset's).
func (m *Machine) rearmable() bool {
	inc := m.rec.Incident
	return inc.Kind == KindFailover && inc.Reset == nil && (inc.StuckIn == Suspect || inc.StuckIn == FailingOver) &&
		inc.Current < len(inc.Steps) && m.rerunnable(inc.Current)
}
