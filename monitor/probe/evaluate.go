package probe

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/understudy/understudy/internal/clock"
)

// change is a target crossing its hysteresis threshold.
type change struct {
	target string
	up     bool
	err    error
	// soft: the target is still up and its latest probe failed (failing)
	// or passed again (not failing); no threshold was crossed.
	soft, failing bool
}

// job asks the agent about tracked findings in one confirmation round: one
// finding, or the findings of one hypervisor that a settle window merged;
// gen tells a stale answer.
type job struct {
	keys []string
	gen  int
	fs   []Finding // the findings of keys, in the same order
	// hypervisor is the one host the findings are on ("" when they span
	// several, as Isolated does); it labels the confirmation metric.
	hypervisor string
}

// answer is a job's verdicts, one per finding.
type answer struct {
	job
	verdicts []verdict
}

// trackState is where a tracked finding stands.
type trackState int

const (
	confirming trackState = iota // waiting for the agent
	reported                     // a failure (or Degraded) event went out
	held                         // the agent disagreed; ask again later
	resolved                     // Isolated whose underlying failures were confirmed
	pending                      // Degraded, emitted once it lasted e.reconfirm
	settling                     // in its hypervisor's batch, waiting out the settle window
)

// track is a finding the evaluator has seen and not yet seen end.
type track struct {
	f     Finding
	state trackState
	gen   int
	since time.Time // when the agent last disagreed, or when a Degraded was first seen
	// sent is the last non-disagreement kind emitted for it; when the
	// finding ends and sent is set, a Recovered event follows.
	sent      EventKind
	disagreed bool
}

// evaluator keeps the per-target states, classifies them and decides which
// events to emit. It runs in one goroutine and does no I/O itself: it
// returns jobs for the agent and emits to the sink.
type evaluator struct {
	plan      Plan
	targets   map[string]Target
	conf      *confirmer
	sink      Sink
	clock     clock.Clock
	log       *slog.Logger
	metrics   *Metrics
	reconfirm time.Duration
	window    time.Duration // the settle window; 0: confirm each finding at once

	down    map[string]error // down targets and why
	tracked map[string]*track
	batches map[string]*batch // hypervisor -> findings waiting out the window
	failing map[string]bool   // up targets whose latest probe failed
	gen     int
}

// observe applies one target change and re-evaluates.
func (e *evaluator) observe(ctx context.Context, c change) []job {
	if c.soft {
		if c.failing {
			e.failing[c.target] = true
		} else {
			delete(e.failing, c.target)
		}
		return nil
	}
	delete(e.failing, c.target)
	if c.up {
		delete(e.down, c.target)
	} else {
		e.down[c.target] = c.err
	}
	return e.reconcile(ctx)
}

// tick asks the agent again about findings it disagreed with (those of one
// hypervisor in one round), and reports Degraded findings that lasted long
// enough to matter.
func (e *evaluator) tick(ctx context.Context) []job {
	var jobs []job
	again := map[string][]string{} // hypervisor -> held keys asked about together
	now := e.clock.Now()
	for _, key := range slices.Sorted(maps.Keys(e.tracked)) {
		tr := e.tracked[key]
		if now.Sub(tr.since) < e.reconfirm {
			continue
		}
		switch tr.state {
		case held:
			if hyp, ok := e.batchHost(tr.f); ok {
				again[hyp] = append(again[hyp], key)
				continue
			}
			jobs = append(jobs, e.startJob(key, tr))
		case pending:
			e.report(ctx, tr, tr.f)
		}
	}
	for _, hyp := range slices.Sorted(maps.Keys(again)) {
		jobs = append(jobs, e.startGroup(hyp, again[hyp]))
	}
	return jobs
}

// reconcile classifies the current view, ends the findings that are gone
// and starts the new ones.
func (e *evaluator) reconcile(ctx context.Context) []job {
	findings := Classify(e.view())
	current := map[string]Finding{}
	for _, f := range findings {
		current[f.Key()] = f
		for _, u := range f.Underlying {
			current[u.Key()] = u
		}
	}
	for _, key := range slices.Sorted(maps.Keys(e.tracked)) {
		tr := e.tracked[key]
		f, ok := current[key]
		if !ok {
			delete(e.tracked, key)
			e.ended(ctx, tr, findings)
			continue
		}
		if tr.state != confirming {
			tr.f = f
		}
	}
	var jobs []job
	for _, f := range findings {
		key := f.Key()
		if _, ok := e.tracked[key]; ok {
			continue
		}
		tr := &track{f: f}
		e.tracked[key] = tr
		if f.Kind == Degraded {
			// Targets cross their thresholds one by one, so a VM can look
			// down a moment before its services do; report only what lasts.
			tr.state, tr.since = pending, e.clock.Now()
			continue
		}
		if !e.conf.needs(f) {
			e.report(ctx, tr, f)
			continue
		}
		if hyp, ok := e.batchHost(f); ok && (e.batches[hyp] != nil || !e.hostQuiet(hyp, f.VMs)) {
			e.hold(key, hyp, tr)
			continue
		}
		jobs = append(jobs, e.startJob(key, tr))
	}
	return append(jobs, e.flushDue()...)
}

// startJob asks about one finding.
func (e *evaluator) startJob(key string, tr *track) job {
	return e.startGroup(e.conf.hostOf(tr.f), []string{key})
}

// startGroup asks about the findings of keys (all tracked) in one round.
func (e *evaluator) startGroup(hyp string, keys []string) job {
	e.gen++
	j := job{keys: keys, gen: e.gen, hypervisor: hyp}
	for _, k := range keys {
		tr := e.tracked[k]
		tr.gen, tr.state = e.gen, confirming
		j.fs = append(j.fs, tr.f)
	}
	return j
}

// settle applies the agent's verdicts on the findings still tracked.
func (e *evaluator) settle(ctx context.Context, a answer) {
	var live []int // indexes into a.keys of the findings still waiting for this answer
	for i, k := range a.keys {
		if tr := e.tracked[k]; tr != nil && tr.gen == a.gen {
			live = append(live, i)
		}
	}
	switch {
	case len(live) == 0:
		return // the findings ended or were asked about again meanwhile
	case len(a.keys) == 1:
		e.settleOne(ctx, e.tracked[a.keys[0]], a.verdicts[0])
	default:
		e.settleGroup(ctx, a, live)
	}
}

// settleOne applies the agent's verdict on one finding.
func (e *evaluator) settleOne(ctx context.Context, tr *track, a verdict) {
	f := tr.f
	switch {
	case a.agree && f.Kind == Isolated:
		tr.state = resolved
		for _, u := range f.Underlying {
			key := u.Key()
			ut := e.tracked[key]
			if ut == nil {
				ut = &track{f: u}
				e.tracked[key] = ut
			}
			if ut.state != reported {
				e.report(ctx, ut, Finding{Kind: u.Kind, Hypervisor: u.Hypervisor, VMs: u.VMs, Services: u.Services,
					Reason: u.Reason + "; confirmed: " + a.reason})
			}
		}
	case a.agree:
		f.Reason += "; confirmed: " + a.reason
		e.report(ctx, tr, f)
	case f.Kind == Isolated:
		if tr.sent == 0 {
			f.Reason += "; " + a.reason
			e.report(ctx, tr, f)
		}
		tr.state, tr.since = held, e.clock.Now()
	default:
		tr.state, tr.since = held, e.clock.Now()
		if !tr.disagreed {
			tr.disagreed = true
			e.emit(ctx, Event{Kind: Disagreement, Of: f.Kind, Services: f.Services, VMs: f.VMs,
				Hypervisor: f.Hypervisor, Reason: f.Reason + "; " + a.reason})
		}
	}
}

// report emits f as its own kind and marks the track reported.
func (e *evaluator) report(ctx context.Context, tr *track, f Finding) {
	tr.state, tr.sent = reported, f.Kind
	e.emit(ctx, Event{Kind: f.Kind, Services: f.Services, VMs: f.VMs, Hypervisor: f.Hypervisor, Reason: f.Reason})
}

// ended emits Recovered for a finding that is gone, naming only what no
// current finding still covers.
func (e *evaluator) ended(ctx context.Context, tr *track, current []Finding) {
	if tr.sent == 0 {
		return
	}
	stillSvc, stillVM := map[string]bool{}, map[string]bool{}
	var mark func(fs []Finding)
	mark = func(fs []Finding) {
		for _, f := range fs {
			mark(f.Underlying)
			if !f.Kind.IsFailure() {
				continue // Degraded and Isolated cover nothing themselves
			}
			for _, s := range f.Services {
				stillSvc[s] = true
			}
			if f.Kind != ServiceDown { // a ServiceDown's VM answers
				for _, v := range f.VMs {
					stillVM[v] = true
				}
			}
		}
	}
	mark(current)
	f := tr.f
	svcs := slices.DeleteFunc(slices.Clone(f.Services), func(s string) bool { return stillSvc[s] })
	vms := slices.DeleteFunc(slices.Clone(f.VMs), func(v string) bool { return stillVM[v] })
	if len(f.Services)+len(f.VMs) > 0 && len(svcs)+len(vms) == 0 {
		return // all of it is now part of another finding
	}
	e.emit(ctx, Event{Kind: Recovered, Of: tr.sent, Services: svcs, VMs: vms, Hypervisor: f.Hypervisor,
		Reason: "healthy again; was: " + f.Reason})
}

func (e *evaluator) emit(ctx context.Context, ev Event) {
	ev.At = e.clock.Now()
	e.metrics.countEvent(ev.Kind)
	level := slog.LevelWarn
	if ev.Kind == Recovered {
		level = slog.LevelInfo
	}
	e.log.Log(ctx, level, "monitor event", "event", ev.Kind.String(), "of", ev.Of.String(),
		"services", ev.Services, "vms", ev.VMs, "hypervisor", ev.Hypervisor, "reason", ev.Reason)
	e.sink.Emit(ctx, ev)
}

// view builds the per-entity states from the down targets: an entity is
// down when any of its targets is.
func (e *evaluator) view() View {
	why := map[string][]string{} // role/entity -> reasons
	app := map[string]bool{}     // role/entity -> every failure is application-level
	for _, name := range slices.Sorted(maps.Keys(e.down)) {
		t := e.targets[name]
		key := string(t.Role) + "/" + t.Entity
		err := e.down[name]
		reason := "down"
		if err != nil {
			reason = err.Error()
		}
		_, seen := app[key]
		app[key] = errors.Is(err, ErrUnexpectedStatus) && (!seen || app[key])
		why[key] = append(why[key], reason)
	}
	state := func(role Role, name string) EntityState {
		r, down := why[string(role)+"/"+name]
		return EntityState{Name: name, Up: !down, Reason: strings.Join(r, "; ")}
	}
	var v View
	for _, h := range e.plan.Hypervisors {
		v.Hypervisors = append(v.Hypervisors, state(RoleHypervisor, h.Name))
	}
	for _, vm := range e.plan.VMs {
		v.VMs = append(v.VMs, VMState{EntityState: state(RoleVM, vm.Name), Hypervisor: vm.Hypervisor})
	}
	for _, s := range e.plan.Services {
		v.Services = append(v.Services, ServiceState{EntityState: state(RoleService, s.Name), VM: s.VM,
			Application: app[string(RoleService)+"/"+s.Name]})
	}
	return v
}
