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
	// Jitter returns a random duration in [0, d) to take off a retry's
	// backoff, so that retries of many services do not beat in step. nil
	// takes nothing off (the scenario tests); the executor injects a
	// random one. It is the machine's only source of chance.
	Jitter func(d time.Duration) time.Duration
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
			Epoch: cfg.Epoch, // as the monitor's snapshot shows it: a proxy ignores an older epoch
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
		if inc.Reset != nil {
			run := *inc.Reset
			inc.Reset = &run
		}
		inc.Phases = slices.Clone(inc.Phases)
		inc.Agent = slices.Clone(inc.Agent)
		inc.Warnings = slices.Clone(inc.Warnings)
		r.Incident = &inc
	}
	return r
}

// Service returns the service the machine runs incidents of.
func (m *Machine) Service() Service { return m.cfg.Service }

// Name returns the service's name.
func (m *Machine) Name() string { return m.rec.Service }

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
// The caller must persist Record() before performing them. The record that
// results has passed the size guard (see MaxRecordBytes).
func (m *Machine) Step(ev Event) ([]Action, error) {
	defer m.bound()
	return m.step(ev)
}

func (m *Machine) step(ev Event) ([]Action, error) {
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
	case FenceStopped:
		return m.onFenceStopped(ev)
	}
	return nil, fmt.Errorf("service %q: unknown event %T", m.rec.Service, ev)
}

// Resume returns the actions that continue an open incident after a
// restart (see the package doc for which steps run again).
func (m *Machine) Resume(now time.Time) ([]Action, error) {
	defer m.bound()
	inc := m.rec.Incident
	acts := m.resumeFenceStop()
	if !inc.Open() || m.rec.State == Stuck || inc.Current >= len(inc.Steps) {
		return acts, nil
	}
	i := inc.Current
	s := &inc.Steps[i]
	if s.Status != StatusRunning || s.Kind == playbooks.Wait {
		return acts, nil // backoff and wait end on a Tick
	}
	if !m.rerunnable(i) {
		reason := fmt.Sprintf("restart interrupted step %d (%s), which is not idempotent; its outcome is unknown", i, s.Kind)
		more, err := m.stickWith(now, reason)
		return append(acts, more...), err
	}
	s.Note = "resumed after restart"
	s.Deadline = now.Add(inc.Playbook.Steps[i].Timeout)
	return append(acts, m.runStep(i, true)), nil
}

// onTrigger opens an incident, or joins the open one. On a stuck incident
// a manual failover runs the stuck step again, and so does a new finding of
// the monitor (it re-arms the incident) when that step may run again.
func (m *Machine) onTrigger(ev Trigger) ([]Action, error) {
	tr := newTrigger(ev.Source, ev.Reason, ev.At)
	switch m.rec.State {
	case Primary:
		return m.open(ev.At, tr, ev.Copy)
	case Suspect, FailingOver:
		m.noteTrigger(tr)
		return nil, nil
	case Stuck:
		m.noteTrigger(tr)
		switch {
		case ev.Source == FromCLI:
			return m.retryStuck(ev.At, PhaseRetried, "retried by operator")
		case ev.Source == FromMonitor && m.rearmable():
			return m.retryStuck(ev.At, PhaseRearmed, "re-armed by a new finding of the monitor")
		}
		return nil, nil
	}
	return nil, fmt.Errorf("service %q is %s: trigger from %s: %w", m.rec.Service, m.rec.State, ev.Source, ErrIllegalTransition)
}

// open starts a new incident unless flap damping refuses it.
func (m *Machine) open(now time.Time, tr TriggerRecord, copyAge *CopyAge) ([]Action, error) {
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
		Copy:     copyAge,
	}
	for i, s := range pb.Steps {
		inc.Steps[i] = StepRecord{Kind: s.Kind, Status: StatusPending}
	}
	m.rec.Incident = inc
	m.phase(PhaseDetected, now)
	return m.start(0, now)
}

// damp applies the flap policy; damped is true when the trigger is refused.
func (m *Machine) damp(now time.Time) (acts []Action, damped bool) {
	until, flapping := m.flapping(now)
	if !flapping {
		m.rec.DampedUntil = time.Time{}
		return nil, false
	}
	if now.Before(m.rec.DampedUntil) {
		return nil, true // already alerted
	}
	m.rec.DampedUntil = until
	return []Action{Alert{Service: m.rec.Service, Kind: AlertUnprotected, Reason: fmt.Sprintf(
		"flapping: %d moves within %s; staying on %s until %s",
		len(m.rec.Moves), m.cfg.Flap.Window, m.rec.Placement.Where, until.UTC().Format(time.RFC3339))}}, true
}

// flapping forgets the moves older than the flap window and reports whether
// the service moved too often within it, and until when that holds.
func (m *Machine) flapping(now time.Time) (until time.Time, flapping bool) {
	f := m.cfg.Flap
	if f.Max <= 0 {
		return time.Time{}, false
	}
	m.rec.Moves = slices.DeleteFunc(m.rec.Moves, func(t time.Time) bool { return now.Sub(t) >= f.Window })
	if len(m.rec.Moves) < f.Max {
		return time.Time{}, false
	}
	return m.rec.Moves[0].Add(f.Window), true
}

// phase records the time the incident reached a phase.
func (m *Machine) phase(name Phase, at time.Time) {
	inc := m.rec.Incident
	inc.Phases = append(inc.Phases, PhaseTime{Phase: name, At: at})
}

// close ends the open incident. A closed incident leaves no hold behind,
// however it ended.
func (m *Machine) close(at time.Time, result string) {
	m.rec.Placement.Held, m.rec.Placement.FailingOver, m.rec.Placement.Unavailable = false, false, ""
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
