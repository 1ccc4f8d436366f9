package recover

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/understudy/understudy/playbooks"
)

// FlapPolicy damps flapping: a service that moved (failed over or back) Max
// times within Window is not failed over again; the trigger raises an alert
// instead. Max 0 disables damping.
type FlapPolicy struct {
	Max    int
	Window time.Duration
}

// Config is what a Machine is built from.
type Config struct {
	Service  Service
	Playbook *playbooks.Playbook // used for new incidents; open ones keep their own copy
	Epoch    uint64              // the monitor's epoch, sent with activate
	Flap     FlapPolicy

	// MigratePlaybook and FailbackPlaybook run migrations and failbacks;
	// nil means DefaultMigratePlaybook() and DefaultFailbackPlaybook().
	MigratePlaybook  *playbooks.Playbook
	FailbackPlaybook *playbooks.Playbook
	// Moves is the service's automatic migration and failback policy (see Due).
	Moves MovePolicy
}

// Machine is the incident state machine of one service. It is deterministic
// and does no I/O: Step takes an event and returns actions. It is not safe
// for concurrent use; the executor gives each machine one owner goroutine.
type Machine struct {
	cfg Config
	rec Record
}

// New returns the machine of a service that runs on its primary and has no
// history.
func New(cfg Config) *Machine {
	return &Machine{cfg: cfg, rec: Record{
		Service: cfg.Service.Name,
		State:   Primary,
		Placement: Placement{
			Service: cfg.Service.Name, Where: AtPrimary, Host: cfg.Service.VM, Address: cfg.Service.Address,
		},
	}}
}

// Restore returns the machine of a service from its persisted record. The
// machine works on its own copy of rec.
func Restore(cfg Config, rec Record) *Machine {
	rec.Service = cfg.Service.Name
	return &Machine{cfg: cfg, rec: cloneRecord(rec)}
}

// Record returns a copy of the service's record, to persist or to show.
func (m *Machine) Record() Record { return cloneRecord(m.rec) }

// cloneRecord copies everything the machine mutates.
func cloneRecord(r Record) Record {
	r.Moves = slices.Clone(r.Moves)
	if r.Incident != nil {
		inc := *r.Incident
		inc.Triggers = slices.Clone(inc.Triggers)
		inc.Steps = slices.Clone(inc.Steps)
		inc.Phases = slices.Clone(inc.Phases)
		inc.Agent = slices.Clone(inc.Agent)
		inc.Warnings = slices.Clone(inc.Warnings)
		r.Incident = &inc
	}
	return r
}

// State returns the service's state.
func (m *Machine) State() State { return m.rec.State }

// Open reports whether the service has an open incident (running or stuck).
func (m *Machine) Open() bool { return m.rec.Incident.Open() }

// Deadline returns when the machine next needs a Tick: the running
// attempt's deadline, the end of a backoff or of a wait. ok is false when
// nothing is pending.
func (m *Machine) Deadline() (t time.Time, ok bool) {
	inc := m.rec.Incident
	if !inc.Open() || m.rec.State == Stuck || inc.Current >= len(inc.Steps) {
		return time.Time{}, false
	}
	s := inc.Steps[inc.Current]
	switch s.Status {
	case StatusRunning:
		return s.Deadline, true
	case StatusBackoff:
		return s.RetryAt, true
	}
	return time.Time{}, false
}

// Step applies one event and returns the actions to perform, in order.
// The caller must persist Record() before performing them.
func (m *Machine) Step(ev Event) ([]Action, error) {
	switch ev := ev.(type) {
	case Trigger:
		return m.onTrigger(ev)
	case StepDone:
		return m.onDone(ev)
	case StepFailed:
		return m.onFailed(ev)
	case Tick:
		return m.onTick(ev.At)
	case Reset:
		return m.onReset(ev)
	case Migrate:
		return m.onMigrate(ev)
	case Failback:
		return m.onFailback(ev)
	}
	return nil, fmt.Errorf("service %q: unknown event %T", m.rec.Service, ev)
}

// Resume returns the actions that continue an open incident after a
// restart (see the package doc for which steps run again).
func (m *Machine) Resume(now time.Time) ([]Action, error) {
	inc := m.rec.Incident
	if !inc.Open() || m.rec.State == Stuck || inc.Current >= len(inc.Steps) {
		return nil, nil
	}
	i := inc.Current
	s := &inc.Steps[i]
	if s.Status != StatusRunning || s.Kind == playbooks.Wait {
		return nil, nil // backoff and wait end on a Tick
	}
	if !m.rerunnable(i) {
		reason := fmt.Sprintf("restart interrupted step %d (%s), which is not idempotent; its outcome is unknown", i, s.Kind)
		return m.stickWith(now, reason)
	}
	s.Note = "resumed after restart"
	s.Deadline = now.Add(inc.Playbook.Steps[i].Timeout)
	return []Action{m.runStep(i, true)}, nil
}

// onTrigger opens an incident, or joins the open one.
func (m *Machine) onTrigger(ev Trigger) ([]Action, error) {
	tr := TriggerRecord{Source: ev.Source, Reason: ev.Reason, At: ev.At}
	switch m.rec.State {
	case Primary:
		return m.open(ev.At, tr)
	case Suspect, FailingOver:
		m.rec.Incident.Triggers = append(m.rec.Incident.Triggers, tr)
		return nil, nil
	case Stuck:
		m.rec.Incident.Triggers = append(m.rec.Incident.Triggers, tr)
		if ev.Source != FromCLI {
			return nil, nil
		}
		return m.retryStuck(ev.At)
	}
	return nil, fmt.Errorf("service %q is %s: trigger from %s: %w", m.rec.Service, m.rec.State, ev.Source, ErrIllegalTransition)
}

// open starts a new incident unless flap damping refuses it.
func (m *Machine) open(now time.Time, tr TriggerRecord) ([]Action, error) {
	if acts, damped := m.damp(now); damped {
		return acts, nil
	}
	if err := m.suspect(); err != nil {
		return nil, err
	}
	m.rec.Seq++
	pb := m.cfg.Playbook
	inc := &Incident{
		ID:       fmt.Sprintf("%s-%d", m.rec.Service, m.rec.Seq),
		Service:  m.rec.Service,
		Opened:   now,
		Triggers: []TriggerRecord{tr},
		Playbook: pb,
		Steps:    make([]StepRecord, len(pb.Steps)),
		From:     m.rec.Placement.Address,
	}
	for i, s := range pb.Steps {
		inc.Steps[i] = StepRecord{Kind: s.Kind, Status: StatusPending}
	}
	m.rec.Incident = inc
	m.phase("detected", now)
	return m.start(0, now)
}

// damp applies the flap policy; damped is true when the trigger is refused.
func (m *Machine) damp(now time.Time) (acts []Action, damped bool) {
	f := m.cfg.Flap
	if f.Max <= 0 {
		return nil, false
	}
	m.rec.Moves = slices.DeleteFunc(m.rec.Moves, func(t time.Time) bool { return now.Sub(t) >= f.Window })
	if len(m.rec.Moves) < f.Max {
		m.rec.DampedUntil = time.Time{}
		return nil, false
	}
	if now.Before(m.rec.DampedUntil) {
		return nil, true // already alerted
	}
	m.rec.DampedUntil = m.rec.Moves[0].Add(f.Window)
	return []Action{Alert{Service: m.rec.Service, Reason: fmt.Sprintf(
		"flapping: %d moves within %s; staying on %s until %s",
		len(m.rec.Moves), f.Window, m.rec.Placement.Where, m.rec.DampedUntil.UTC().Format(time.RFC3339))}}, true
}

// onReset ends a stuck incident or records a failback done by hand.
func (m *Machine) onReset(ev Reset) ([]Action, error) {
	from := m.rec.State
	if err := m.reset(); err != nil {
		return nil, err
	}
	if from == OnStandby || from == OnSpare {
		m.rec.Moves = append(m.rec.Moves, ev.At)
	}
	if inc := m.rec.Incident; inc.Open() {
		inc.Stuck = ""
		m.close(ev.At, ResultReset)
	}
	m.rec.Placement = Placement{
		Service: m.rec.Service, Where: AtPrimary, Host: m.cfg.Service.VM,
		Address: m.cfg.Service.Address, Since: ev.At, Epoch: m.cfg.Epoch,
	}
	return nil, nil
}

// phase records the time the incident reached a phase.
func (m *Machine) phase(name string, at time.Time) {
	inc := m.rec.Incident
	inc.Phases = append(inc.Phases, PhaseTime{Phase: name, At: at})
}

// close ends the open incident. A closed incident leaves no hold behind,
// however it ended.
func (m *Machine) close(at time.Time, result string) {
	m.rec.Placement.Held = false
	m.rec.Incident.Closed = at
	m.rec.Incident.Result = result
}

// current returns the step record an event refers to, or ErrStale.
func (m *Machine) current(incident string, step, attempt int) (*StepRecord, error) {
	inc := m.rec.Incident
	if !inc.Open() || inc.ID != incident {
		return nil, fmt.Errorf("service %q: result for incident %q, open is %v: %w", m.rec.Service, incident, openID(inc), ErrStale)
	}
	if step < 0 || step >= len(inc.Steps) {
		return nil, fmt.Errorf("service %q: incident %s has no step %d", m.rec.Service, incident, step)
	}
	s := &inc.Steps[step]
	if step != inc.Current || s.Attempt != attempt || s.Status != StatusRunning || m.rec.State == Stuck {
		return nil, fmt.Errorf("service %q: result for step %d attempt %d; current is step %d (%s): %w",
			m.rec.Service, step, attempt, inc.Current, s.Status, ErrStale)
	}
	return s, nil
}

func openID(inc *Incident) any {
	if !inc.Open() {
		return "none"
	}
	return inc.ID
}

// IsStale reports whether err says an event arrived too late to matter.
func IsStale(err error) bool { return errors.Is(err, ErrStale) }
