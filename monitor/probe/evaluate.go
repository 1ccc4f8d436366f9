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
}

// job asks the agent about one tracked finding; gen tells a stale answer.
type job struct {
	key string
	gen int
	f   Finding
}

// answer is a job's verdict.
type answer struct {
	job
	verdict
}

// trackState is where a tracked finding stands.
type trackState int

const (
	confirming trackState = iota // waiting for the agent
	reported                     // a failure (or Degraded) event went out
	held                         // the agent disagreed; ask again later
	resolved                     // Isolated whose underlying failures were confirmed
	pending                      // Degraded, emitted once it lasted e.reconfirm
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

	down    map[string]error // down targets and why
	tracked map[string]*track
	gen     int
}

// observe applies one target change and re-evaluates.
func (e *evaluator) observe(ctx context.Context, c change) []job {
	if c.up {
		delete(e.down, c.target)
	} else {
		e.down[c.target] = c.err
	}
	return e.reconcile(ctx)
}

// tick asks the agent again about findings it disagreed with, and reports
// Degraded findings that lasted long enough to matter.
func (e *evaluator) tick(ctx context.Context) []job {
	var jobs []job
	now := e.clock.Now()
	for _, key := range slices.Sorted(maps.Keys(e.tracked)) {
		tr := e.tracked[key]
		if now.Sub(tr.since) < e.reconfirm {
			continue
		}
		switch tr.state {
		case held:
			jobs = append(jobs, e.startJob(key, tr))
		case pending:
			e.report(ctx, tr, tr.f)
		}
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
		jobs = append(jobs, e.startJob(key, tr))
	}
	return jobs
}

func (e *evaluator) startJob(key string, tr *track) job {
	e.gen++
	tr.gen, tr.state = e.gen, confirming
	return job{key: key, gen: tr.gen, f: tr.f}
}

// settle applies the agent's verdict on a finding still tracked.
func (e *evaluator) settle(ctx context.Context, a answer) {
	tr := e.tracked[a.key]
	if tr == nil || tr.gen != a.gen {
		return // the finding ended or was asked about again meanwhile
	}
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
