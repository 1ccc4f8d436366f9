package recover

import (
	"fmt"
	"strconv"
	"time"

	"github.com/understudy/understudy/playbooks"
)

// start moves the incident to step i: it skips steps the service's policy
// rules out, and emits the first attempt of the next one. Past the last
// step, the service arrives on the standby.
func (m *Machine) start(i int, now time.Time) ([]Action, error) {
	inc := m.rec.Incident
	var acts []Action
	for ; i < len(inc.Steps); i++ {
		inc.Current = i
		kind := inc.Steps[i].Kind
		if kind != playbooks.Confirm && m.rec.State == Suspect {
			if err := m.failOver(); err != nil {
				return nil, err
			}
			m.holdFailover()
		}
		skip, stop := m.skip(i, kind)
		if stop != "" {
			inc.Steps[i].Status, inc.Steps[i].Error, inc.Steps[i].Finished = StatusFailed, stop, now
			more, err := m.stickWith(now, stop)
			return append(acts, more...), err
		}
		if skip == "" {
			return append(acts, m.attempt(i, now)...), nil
		}
		inc.Steps[i].Status, inc.Steps[i].Note, inc.Steps[i].Finished = StatusSkipped, skip, now
	}
	inc.Current = len(inc.Steps)
	more, err := m.finish(now)
	return append(acts, more...), err
}

// skip says why the service's policy skips step i, or why it must stop.
func (m *Machine) skip(i int, kind playbooks.Kind) (skip, stop string) {
	if m.resetStep(i) {
		return m.skipReset(kind), ""
	}
	svc := m.cfg.Service
	switch kind {
	case playbooks.Confirm:
		if svc.Confirm == "none" {
			return "confirm: none", ""
		}
		if m.rec.Incident.Triggers[0].Source == FromCLI {
			return "manual failover", ""
		}
	case playbooks.Fence:
		if svc.Fence == "none" || svc.Fence == "" {
			if svc.FenceRequired {
				return "", "fence-required is set but the fence policy is none"
			}
			return "fence: none", ""
		}
	}
	return "", ""
}

// attempt starts the next attempt of step i.
func (m *Machine) attempt(i int, now time.Time) []Action {
	inc := m.rec.Incident
	s, spec := &inc.Steps[i], inc.Playbook.Steps[i]
	s.Attempt++
	inc.Attempts++
	if s.Started.IsZero() {
		s.Started = now
		if s.Kind == playbooks.Activate {
			m.phase(PhaseActivating, now)
		}
	}
	s.Status, s.RetryAt, s.Unprotected = StatusRunning, time.Time{}, ""
	if s.Kind == playbooks.Wait {
		s.Deadline = now.Add(spec.Duration)
		return nil // the machine waits by itself; a Tick ends it
	}
	s.Deadline = now.Add(spec.Timeout)
	return []Action{m.runStep(i, false)}
}

// runStep builds the action for the running attempt of step i.
func (m *Machine) runStep(i int, resumed bool) RunStep {
	inc := m.rec.Incident
	s := inc.Steps[i]
	a := RunStep{
		Incident: inc.ID, Service: m.rec.Service, Index: i, Step: inc.Playbook.Steps[i],
		Attempt: s.Attempt, Deadline: s.Deadline, Epoch: m.cfg.Epoch,
		From: inc.From, To: inc.To, Resumed: resumed, Target: inc.Target, Origin: origin(inc),
	}
	if m.resetStep(i) {
		a.From, a.To, a.Origin = inc.Reset.From, m.cfg.Service.Address, inc.Reset.Origin
	}
	return a
}

// origin returns where a move began, or the zero placement.
func origin(inc *Incident) Placement {
	if inc.Origin == nil {
		return Placement{}
	}
	return *inc.Origin
}

// rerunnable says whether step i may run again after a restart.
func (m *Machine) rerunnable(i int) bool {
	spec := m.rec.Incident.Playbook.Steps[i]
	return spec.Rerunnable() || IsMoveStep(spec.Kind) || (spec.Kind == playbooks.Fence && m.cfg.Service.Fence == "hypervisor")
}

// onDone records a successful attempt and moves on.
func (m *Machine) onDone(ev StepDone) ([]Action, error) {
	s, err := m.current(ev.Incident, ev.Step, ev.Attempt)
	if err != nil {
		return nil, err
	}
	inc := m.rec.Incident
	s.Status, s.Finished, s.Error = StatusDone, ev.At, ""
	if ev.Result.Note != "" {
		s.Note = ev.Result.Note
	}
	switch s.Kind {
	case playbooks.Confirm:
		if ev.Result.Disagree {
			return m.disagree(ev)
		}
		m.phase(PhaseConfirmed, ev.At)
	case playbooks.Fence:
		inc.Frozen = ev.Result.Frozen
		m.phase(PhaseFenced, ev.At)
	case playbooks.Activate:
		inc.To, inc.Restored, inc.Fallback, inc.Agent = ev.Result.Address, ev.Result.Restored, ev.Result.Fallback, ev.Result.Phases
		m.phase(PhaseActivated, ev.At)
	case playbooks.WaitHealthy:
		m.primaryChecked(ev.Step)
		m.phase(m.phaseName(ev.Step, PhaseHealthy, PhasePrimaryHealthy), ev.At)
	case playbooks.DNSReplace:
		acts := m.dnsDone(ev)
		more, err := m.start(ev.Step+1, ev.At)
		return append(acts, more...), err
	case playbooks.Notify:
		m.phase(PhaseNotified, ev.At)
	case StepCopy:
		inc.To = ev.Result.Address
		m.phase(movePhase[s.Kind], ev.At)
	case StepHold, StepRelease:
		// The placement carries the hold to every proxy (see Placement.Held).
		m.rec.Placement.Held = s.Kind == StepHold
		m.phase(movePhase[s.Kind], ev.At)
	default:
		if p, ok := movePhase[s.Kind]; ok {
			m.phase(p, ev.At)
		}
	}
	return m.start(ev.Step+1, ev.At)
}

// dnsDone records a successful dns-replace: the flip, its verification at
// the dns.verify servers, and a warning (and an alert) for each server that
// did not answer the new address in time.
func (m *Machine) dnsDone(ev StepDone) []Action {
	inc := m.rec.Incident
	flipped := ev.Result.Flipped
	if flipped.IsZero() || flipped.After(ev.At) {
		flipped = ev.At
	}
	m.phase(m.phaseName(ev.Step, PhaseDNSFlipped, PhaseDNSReset), flipped)
	m.place(flipped)
	if ev.Result.Verified {
		m.phase(PhaseVerified, ev.At)
	}
	var acts []Action
	if inc.Frozen && !m.resetStep(ev.Step) {
		acts = append(acts, m.stopFenced())
	}
	for i, w := range ev.Result.Warnings {
		inc.Warnings = append(inc.Warnings, w)
		subject := strconv.Itoa(i)
		if i < len(ev.Result.Unverified) {
			subject = ev.Result.Unverified[i]
		}
		acts = append(acts, Alert{Incident: inc.ID, Service: m.rec.Service, Kind: AlertUnverified, Reason: w, Subject: subject})
	}
	return acts
}

// phaseName is the phase step i records: a reset's steps record their own.
func (m *Machine) phaseName(i int, name, reset Phase) Phase {
	if m.resetStep(i) {
		return reset
	}
	return name
}

// disagree ends the incident: the agent sees the primary alive.
func (m *Machine) disagree(ev StepDone) ([]Action, error) {
	if err := m.standDown(); err != nil {
		return nil, err
	}
	inc := m.rec.Incident
	inc.Disagreed = ev.Result.Note
	if inc.Disagreed == "" {
		inc.Disagreed = "the standby agent reached the primary"
	}
	m.phase(PhaseDisagreed, ev.At)
	m.close(ev.At, ResultDisagreement)
	return nil, nil
}

// place points the placement where the incident's DNS flip sent the
// service: the primary for a reset's steps, else its flow's place.
func (m *Machine) place(at time.Time) {
	if m.resetStep(m.rec.Incident.Current) {
		m.rec.Placement = m.primaryPlacement(at)
		return
	}
	m.rec.Placement = m.flow().place(m, at)
}

// finish ends the playbook after its last step: a reset's end, or its
// flow's.
func (m *Machine) finish(now time.Time) ([]Action, error) {
	if m.rec.Incident.Reset != nil {
		return m.finishReset(now)
	}
	return m.flow().finish(m, now)
}

// onFailed records a failed attempt: retry after the backoff, or give up.
func (m *Machine) onFailed(ev StepFailed) ([]Action, error) {
	s, err := m.current(ev.Incident, ev.Step, ev.Attempt)
	if err != nil {
		return nil, err
	}
	s.Unprotected = ev.Unprotected
	return m.failAttempt(ev.Step, s, ev.At, ev.Err, ev.Permanent)
}

// failAttempt applies the retry policy of step i to a failed attempt.
func (m *Machine) failAttempt(i int, s *StepRecord, now time.Time, msg string, permanent bool) ([]Action, error) {
	inc := m.rec.Incident
	spec := inc.Playbook.Steps[i]
	s.Error = msg
	inc.LastError = fmt.Sprintf("%s (step %d) attempt %d: %s", s.Kind, i, s.Attempt, msg)
	if delay, ok := m.retryDelay(spec, s, now); ok && !permanent {
		if delay <= 0 {
			return m.attempt(i, now), nil
		}
		s.Status, s.RetryAt, s.Deadline = StatusBackoff, now.Add(delay), time.Time{}
		return nil, nil
	}
	s.Status, s.Finished = StatusFailed, now
	switch {
	case m.resetStep(i):
		return m.failReset(i, s, now, msg)
	case s.Kind == playbooks.Notify:
		s.Note = "notification failed; recovery goes on"
		return m.start(i+1, now)
	case s.Kind == playbooks.Fence && !m.cfg.Service.FenceRequired:
		s.Note = "fence not confirmed; going on because fence-required is false"
		acts, err := m.start(i+1, now)
		alert := Alert{Incident: inc.ID, Service: m.rec.Service, Kind: AlertUnfenced, Reason: "fence not confirmed, failing over anyway: " + msg}
		return append([]Action{alert}, acts...), err
	case s.Kind == playbooks.Fence:
		return m.stickWith(now, "fence not confirmed and fence-required is set: "+msg)
	}
	return m.flow().fail(m, i, s, now, msg)
}

// retryDelay applies step i's retry policy to its failed attempt: the
// backoff before the next one (doubling, less the injected jitter), or false
// when the attempts or the budget are spent.
func (m *Machine) retryDelay(spec playbooks.Step, s *StepRecord, now time.Time) (time.Duration, bool) {
	if s.Attempt >= spec.Attempts() {
		return 0, false
	}
	d := spec.Retry.Delay(s.Attempt)
	if d > 0 && m.cfg.Jitter != nil {
		d -= min(max(m.cfg.Jitter(d/2), 0), d/2)
	}
	if b := spec.Retry.Budget; b > 0 && now.Add(d).After(s.Started.Add(b)) {
		return 0, false
	}
	return d, true
}

// stickWith halts the incident with a reason and alerts.
func (m *Machine) stickWith(now time.Time, reason string) ([]Action, error) {
	inc := m.rec.Incident
	inc.StuckIn = m.rec.State
	if err := m.stick(); err != nil {
		return nil, err
	}
	m.rec.Placement.Held = false // no service stays held while an operator is needed
	inc.Stuck = reason
	m.endFailoverHold()
	m.phase(PhaseStuck, now)
	return []Action{Alert{Incident: inc.ID, Service: m.rec.Service, Kind: AlertStuck, Reason: "incident stuck: " + reason}}, nil
}

// retryStuck runs the stuck step again from its first attempt, with a
// fresh retry budget (a manual failover, or a new finding of the monitor,
// on a stuck incident); phase and note say which.
func (m *Machine) retryStuck(now time.Time, phase Phase, note string) ([]Action, error) {
	inc := m.rec.Incident
	if err := m.unstick(inc.StuckIn); err != nil {
		return nil, err
	}
	m.rearmFailoverHold(inc.StuckIn)
	inc.Stuck, inc.StuckIn = "", 0
	m.phase(phase, now)
	i := inc.Current
	if i >= len(inc.Steps) {
		return m.finish(now)
	}
	s := &inc.Steps[i]
	s.Attempt, s.Status, s.Started, s.Finished, s.Note = 0, StatusPending, time.Time{}, time.Time{}, note
	return m.start(i, now)
}

// onTick fires the deadline, backoff or wait of the current step.
func (m *Machine) onTick(now time.Time) ([]Action, error) {
	at, ok := m.Deadline()
	if !ok || now.Before(at) {
		return nil, nil
	}
	inc := m.rec.Incident
	i := inc.Current
	s := &inc.Steps[i]
	switch {
	case s.Status == StatusBackoff:
		return m.attempt(i, now), nil
	case s.Kind == playbooks.Wait:
		s.Status, s.Finished = StatusDone, now
		return m.start(i+1, now)
	}
	return m.failAttempt(i, s, now, fmt.Sprintf("timed out after %s", inc.Playbook.Steps[i].Timeout), false)
}
