package recover

import (
	"fmt"
	"slices"
	"time"

	"github.com/understudy/understudy/playbooks"
)

// The step kinds of migrations and failbacks. They extend playbooks.Kind;
// the playbooks parser does not know them, so the default migrate and
// failback playbooks are built here (DefaultMigratePlaybook,
// DefaultFailbackPlaybook). Every one of them is idempotent by the contract
// of the interface that performs it, so a restart re-runs an interrupted one.
const (
	StepHold         playbooks.Kind = "hold"          // the proxy holds the service's new requests (Holder.Hold)
	StepCopy         playbooks.Kind = "copy"          // stop on the standby, copy to the spare, start there (Migrator.Copy)
	StepRelease      playbooks.Kind = "release"       // the proxy releases held requests to the current placement (Holder.Release)
	StepResetStandby playbooks.Kind = "reset-standby" // the agent returns the standby slot to its prepared state (Deactivator)
	StepUndoCopy     playbooks.Kind = "undo-copy"     // delete the spare's copy, make sure the standby's container serves again
	StepVacate       playbooks.Kind = "vacate"        // after a failback: reset the standby slot, or delete the spare's copy
	StepDNSRevert    playbooks.Kind = "dns-revert"    // undo of an attempted dns-replace: compare-and-swap back to the old address
)

// IsMoveStep reports whether k is a step kind of migrations and failbacks
// (the kinds above); every one of them may run again after a restart.
func IsMoveStep(k playbooks.Kind) bool {
	switch k {
	case StepHold, StepCopy, StepRelease, StepResetStandby, StepUndoCopy, StepVacate, StepDNSRevert, StepDrain, StepUndrain:
		return true
	}
	return false
}

// DefaultMigratePlaybook is the playbook of a migration from the standby to
// a spare. dns-replace is the point of no return: a step that fails before
// it aborts the migration (the service stays on the standby, serving, and
// what was started is undone); a step that fails after it raises an alert
// and the migration goes on.
func DefaultMigratePlaybook() *playbooks.Playbook {
	return &playbooks.Playbook{Name: "migrate", Steps: []playbooks.Step{
		{Kind: StepHold, Timeout: 2 * time.Second, Retry: playbooks.Retry{Attempts: 2, Backoff: 200 * time.Millisecond}},
		{Kind: StepCopy, Timeout: 2 * time.Minute},
		{Kind: playbooks.WaitHealthy, Timeout: 15 * time.Second},
		{Kind: playbooks.DNSReplace, Timeout: 3 * time.Second, Retry: playbooks.Retry{Attempts: 3, Backoff: 200 * time.Millisecond}},
		{Kind: StepRelease, Timeout: 2 * time.Second, Retry: playbooks.Retry{Attempts: 3, Backoff: 200 * time.Millisecond}},
		{Kind: StepResetStandby, Timeout: 30 * time.Second, Retry: playbooks.Retry{Attempts: 2, Backoff: time.Second}},
		{Kind: playbooks.Notify, Timeout: 5 * time.Second, Idempotent: true}, // receivers deduplicate on the key
	}}
}

// DefaultFailbackPlaybook is the playbook of a failback to the primary: the
// primary's service must answer first (otherwise the failback is refused
// and the service stays where it is), then the same hold, flip and release
// as a migration, then the standby slot or spare copy is vacated.
func DefaultFailbackPlaybook() *playbooks.Playbook {
	return &playbooks.Playbook{Name: "failback", Steps: []playbooks.Step{
		{Kind: playbooks.WaitHealthy, Timeout: 10 * time.Second},
		{Kind: StepHold, Timeout: 2 * time.Second, Retry: playbooks.Retry{Attempts: 2, Backoff: 200 * time.Millisecond}},
		{Kind: playbooks.DNSReplace, Timeout: 3 * time.Second, Retry: playbooks.Retry{Attempts: 3, Backoff: 200 * time.Millisecond}},
		{Kind: StepRelease, Timeout: 2 * time.Second, Retry: playbooks.Retry{Attempts: 3, Backoff: 200 * time.Millisecond}},
		{Kind: StepVacate, Timeout: 30 * time.Second, Retry: playbooks.Retry{Attempts: 2, Backoff: time.Second}},
		{Kind: playbooks.Notify, Timeout: 5 * time.Second, Idempotent: true}, // receivers deduplicate on the key
	}}
}

// undoSpecs are the steps that undo an attempted step, by its kind.
var undoSpecs = map[playbooks.Kind]playbooks.Step{
	playbooks.DNSReplace: {Kind: StepDNSRevert, Timeout: 3 * time.Second, Retry: playbooks.Retry{Attempts: 5, Backoff: 200 * time.Millisecond}},
	StepCopy:             {Kind: StepUndoCopy, Timeout: time.Minute, Retry: playbooks.Retry{Attempts: 3, Backoff: time.Second}},
	StepHold:             {Kind: StepRelease, Timeout: 2 * time.Second, Retry: playbooks.Retry{Attempts: 5, Backoff: 200 * time.Millisecond}},
}

// onMigrate opens a migration incident, or joins the open one.
func (m *Machine) onMigrate(ev Migrate) ([]Action, error) {
	tr := newTrigger(ev.Source, ev.Reason, ev.At)
	inc := m.rec.Incident
	switch m.rec.State {
	case OnStandby:
		if ev.To == "" {
			return nil, fmt.Errorf("service %q: migrate: no spare named", m.rec.Service)
		}
		return m.openMove(ev.At, tr, KindMigrate, ev.To)
	case Migrating:
		if ev.To != "" && ev.To != inc.Target {
			return nil, fmt.Errorf("service %q is migrating to %q, not %q: %w", m.rec.Service, inc.Target, ev.To, ErrIllegalTransition)
		}
		m.noteTrigger(tr)
		return nil, nil
	case Stuck:
		if inc.Kind == KindMigrate && ev.Source == FromCLI {
			m.noteTrigger(tr)
			return m.retryStuck(ev.At, PhaseRetried, "retried by operator")
		}
	}
	return nil, fmt.Errorf("service %q is %s: migrate from %s: %w", m.rec.Service, m.rec.State, ev.Source, ErrIllegalTransition)
}

// onFailback opens a failback incident, or joins the open one. Flap
// damping applies: an automatic failback is damped with an alert, an
// operator's is refused with ErrDamped.
func (m *Machine) onFailback(ev Failback) ([]Action, error) {
	tr := newTrigger(ev.Source, ev.Reason, ev.At)
	inc := m.rec.Incident
	switch m.rec.State {
	case OnStandby, OnSpare:
		if err := m.refuseIfStopping(); err != nil {
			return nil, err
		}
		if ev.Source == FromCLI {
			if err := m.refuseIfFlapping(ev.At); err != nil {
				return nil, err
			}
		} else if acts, damped := m.damp(ev.At); damped {
			return acts, nil
		}
		return m.openMove(ev.At, tr, KindFailback, "")
	case FailingBack:
		m.noteTrigger(tr)
		return nil, nil
	case Stuck:
		if inc.Kind == KindFailback && ev.Source == FromCLI {
			m.noteTrigger(tr)
			return m.retryStuck(ev.At, PhaseRetried, "retried by operator")
		}
	}
	return nil, fmt.Errorf("service %q is %s: failback from %s: %w", m.rec.Service, m.rec.State, ev.Source, ErrIllegalTransition)
}

// openMove starts a migration (to target) or a failback.
func (m *Machine) openMove(now time.Time, tr TriggerRecord, kind, target string) ([]Action, error) {
	pb, start := m.cfg.MigratePlaybook, m.migrate
	switch kind {
	case KindFailback:
		pb, start = m.cfg.FailbackPlaybook, m.failBack
	case KindReset:
		pb, start = DefaultResetPlaybook(), m.failBack
	}
	if pb == nil && kind == KindMigrate {
		pb = DefaultMigratePlaybook()
	} else if pb == nil {
		pb = DefaultFailbackPlaybook()
	}
	if err := start(); err != nil {
		return nil, err
	}
	origin := m.rec.Placement
	m.rec.Seq++
	inc := &Incident{
		ID:       fmt.Sprintf("%s-%d", m.rec.Service, m.rec.Seq),
		Service:  m.rec.Service,
		Opened:   now,
		Triggers: []TriggerRecord{tr},
		Playbook: pb,
		Steps:    make([]StepRecord, len(pb.Steps)),
		From:     origin.Address,
		Kind:     kind,
		Target:   target,
		Origin:   &origin,
	}
	if kind == KindFailback || kind == KindReset {
		inc.To = m.cfg.Service.Address
	}
	if kind == KindReset {
		inc.Reset = &ResetRun{Reason: tr.Reason, From: origin.Address, Origin: origin}
	}
	for i, s := range pb.Steps {
		inc.Steps[i] = StepRecord{Kind: s.Kind, Status: StatusPending}
	}
	m.rec.Incident = inc
	m.phase(PhaseRequested, now)
	return m.start(0, now)
}

// committed reports whether the move's DNS flip is done: from then on the
// service is at its new place and failures no longer abort the move.
func (m *Machine) committed() bool {
	inc := m.rec.Incident
	for _, s := range inc.Steps {
		if s.Kind == playbooks.DNSReplace && s.Status == StatusDone {
			return true
		}
	}
	return false
}

// failMove handles the final failure of step i of a move: before the DNS
// flip it aborts, after it the move goes on with an alert, and a failed undo
// step sticks the incident for an operator.
func (m *Machine) failMove(i int, s *StepRecord, now time.Time, msg string) ([]Action, error) {
	inc := m.rec.Incident
	reason := fmt.Sprintf("step %s failed after %d attempt(s): %s", s.Kind, s.Attempt, msg)
	switch {
	case inc.Aborted != "":
		return m.stickWith(now, fmt.Sprintf("undoing the %s failed (%s); the service may not serve from %s %s",
			inc.Kind, reason, inc.Origin.Where, inc.Origin.Host))
	case m.committed():
		s.Note = "failed after DNS moved; the service stays at its new place"
		acts, err := m.start(i+1, now)
		alert := Alert{Incident: inc.ID, Service: m.rec.Service, Kind: AlertMove, Reason: fmt.Sprintf("%s went on after a failed step: %s", inc.Kind, reason)}
		return append([]Action{alert}, acts...), err
	}
	return m.abort(i, now, reason)
}

// abort gives up a move that has not flipped DNS: the remaining steps are
// skipped, and undo steps for what was attempted (reverse order) are
// appended to the incident and run; when they are done the service is back
// where it began (see finishMove).
func (m *Machine) abort(i int, now time.Time, reason string) ([]Action, error) {
	inc := m.rec.Incident
	inc.Aborted = reason
	for j := i + 1; j < len(inc.Steps); j++ {
		if inc.Steps[j].Status == StatusPending {
			inc.Steps[j].Status, inc.Steps[j].Note, inc.Steps[j].Finished = StatusSkipped, "aborted", now
		}
	}
	pb := *inc.Playbook
	pb.Steps = slices.Clone(pb.Steps)
	first := len(inc.Steps)
	for j := i; j >= 0; j-- {
		undo, ok := undoFor(inc.Playbook, inc.Steps[j].Kind)
		if !ok || inc.Steps[j].Attempt == 0 {
			continue
		}
		pb.Steps = append(pb.Steps, undo)
		inc.Steps = append(inc.Steps, StepRecord{Kind: undo.Kind, Status: StatusPending, Note: "undoes step " + fmt.Sprint(j)})
	}
	inc.Playbook = &pb
	m.phase(PhaseAborting, now)
	alert := Alert{Incident: inc.ID, Service: m.rec.Service, Kind: AlertMove, Reason: fmt.Sprintf("%s aborted; the service stays on %s %s: %s",
		inc.Kind, inc.Origin.Where, inc.Origin.Host, reason)}
	acts, err := m.start(first, now)
	return append([]Action{alert}, acts...), err
}

// finishMove ends a migration or failback after its last step.
func (m *Machine) finishMove(now time.Time) ([]Action, error) {
	inc := m.rec.Incident
	switch {
	case inc.Aborted != "":
		back := OnStandby
		if inc.Origin.Where == AtSpare {
			back = OnSpare
		}
		if err := m.settle(back); err != nil {
			return nil, err
		}
		m.rec.Placement = *inc.Origin
		m.phase(PhaseAborted, now)
		m.close(now, ResultAborted)
	case inc.Kind == KindMigrate:
		if err := m.settle(OnSpare); err != nil {
			return nil, err
		}
		if m.rec.Placement.Where != AtSpare {
			m.place(now)
		}
		m.phase(PhaseOnSpare, now)
		m.close(now, ResultMigrated)
	default:
		if err := m.settle(Primary); err != nil {
			return nil, err
		}
		if m.rec.Placement.Where != AtPrimary {
			m.place(now)
		}
		m.rec.Moves = append(m.rec.Moves, now)
		m.phase(PhaseOnPrimary, now)
		m.close(now, ResultFailedBack)
	}
	return nil, nil
}

// movePhase is the phase a move step's success records.
var movePhase = map[playbooks.Kind]Phase{
	StepHold:         PhaseHeld,
	StepCopy:         PhaseCopied,
	StepRelease:      PhaseReleased,
	StepResetStandby: PhaseStandbyReset,
	StepUndoCopy:     PhaseCopyUndone,
	StepVacate:       PhaseVacated,
	StepDNSRevert:    PhaseDNSReverted,
	StepDrain:        PhaseDrained,
	StepUndrain:      PhaseUndrained,
}

// movePlacement is where a move's DNS flip points the service.
func (m *Machine) movePlacement(at time.Time) Placement {
	inc := m.rec.Incident
	if inc.Kind == KindMigrate {
		return Placement{Service: m.rec.Service, Where: AtSpare, Host: inc.Target, Address: inc.To, Since: at, Epoch: m.cfg.Epoch}
	}
	return Placement{Service: m.rec.Service, Where: AtPrimary, Host: m.cfg.Service.VM, Address: m.cfg.Service.Address, Since: at, Epoch: m.cfg.Epoch}
}
