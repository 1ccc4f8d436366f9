package probe

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// The settle window. When a hypervisor's VMs die together (the host lost its
// network, or its VMs were all stopped) while the hypervisor itself still
// answers, the engine sees one VMDown (or, first, a ServiceDown) per VM,
// spread over about one interval: every target is probed on its own
// schedule, so the same death crosses the targets' thresholds up to
// interval + timeout apart. Confirming each as it arrives would ask the
// standby agent once per VM and open one incident event per VM. Instead a
// new VMDown or ServiceDown of a VM on hypervisor H waits in H's batch; the
// batch closes one window after its latest finding joined (at most two
// windows after it opened), and then one confirmation round covers all of
// it and one event reports what the agent agreed on.
//
// A failure on a quiet hypervisor is confirmed at once, without a window:
// when the first of a host's findings arrives, Fails consecutive failures
// of one of its targets, the host's other targets died at the same moment
// and have failed at least once since (their probes run on the same
// interval, and the failure that crosses the threshold comes at least one
// interval after its run's first, with the fast re-probe too: nextStart),
// unless Fails is 1. So a finding opens a batch only when
// another target of its hypervisor (the hypervisor's own, or one of
// another VM or of its services) is down or failing; otherwise it is a
// lone failure, asked about alone. A host's VMs wait one window after the
// last of them.

// hostQuiet reports whether no target of hypervisor hyp is down or failing
// other than those of the VMs vms (the finding's own).
func (e *evaluator) hostQuiet(hyp string, vms []string) bool {
	for name, t := range e.targets {
		_, down := e.down[name]
		if !down && !e.failing[name] {
			continue
		}
		vm := ""
		switch t.Role {
		case RoleHypervisor:
			if t.Entity == hyp {
				return false
			}
			continue
		case RoleVM:
			vm = t.Entity
		case RoleService:
			vm = e.conf.ix.service[t.Entity].VM
		}
		if vm != "" && e.conf.ix.vm[vm].Hypervisor == hyp && !slices.Contains(vms, vm) {
			return false
		}
	}
	return true
}

// batch is the findings of one hypervisor waiting out the settle window.
type batch struct {
	opened time.Time
	closes time.Time
	keys   []string // member tracks, in arrival order
}

// batchHost returns the hypervisor whose batch f waits in: VMDown and
// ServiceDown (not an application failure, which needs no agent) of one VM
// on a known hypervisor, while the window is on.
func (e *evaluator) batchHost(f Finding) (string, bool) {
	if e.window <= 0 || len(f.VMs) != 1 {
		return "", false
	}
	if f.Kind != VMDown && (f.Kind != ServiceDown || f.Application) {
		return "", false
	}
	h := e.conf.ix.vm[f.VMs[0]].Hypervisor
	return h, h != ""
}

// hold puts a new finding's track into its hypervisor's batch.
func (e *evaluator) hold(key, hyp string, tr *track) {
	now := e.clock.Now()
	b := e.batches[hyp]
	if b == nil {
		b = &batch{opened: now}
		e.batches[hyp] = b
	}
	b.keys = append(b.keys, key)
	b.closes = now.Add(e.window)
	if limit := b.opened.Add(2 * e.window); b.closes.After(limit) {
		b.closes = limit
	}
	tr.state = settling
}

// members are the keys of b still tracked and settling.
func (e *evaluator) members(b *batch) []string {
	var out []string
	for _, k := range b.keys {
		if tr := e.tracked[k]; tr != nil && tr.state == settling && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// flushDue closes the batches whose window ended: one confirmation job
// each. A batch that holds every VM of its hypervisor waits too: the
// hypervisor's own target crosses its threshold within the same window
// when the host died, and the HostDown then absorbs the batch (one round
// instead of a VMDown round and a HostDown round).
func (e *evaluator) flushDue() []job {
	now := e.clock.Now()
	var jobs []job
	for _, hyp := range slices.Sorted(maps.Keys(e.batches)) {
		b := e.batches[hyp]
		keys := e.members(b)
		switch {
		case len(keys) == 0:
			delete(e.batches, hyp) // all of it ended or became part of another finding
		case !now.Before(b.closes):
			delete(e.batches, hyp)
			jobs = append(jobs, e.startGroup(hyp, keys))
		}
	}
	return jobs
}

// deadline is when the earliest open batch closes.
func (e *evaluator) deadline() (time.Time, bool) {
	var d time.Time
	for _, b := range e.batches {
		if d.IsZero() || b.closes.Before(d) {
			d = b.closes
		}
	}
	return d, !d.IsZero()
}

// wake closes the batches that are due; the engine calls it at deadline().
func (e *evaluator) wake() []job { return e.flushDue() }

// settleGroup applies the verdicts of a merged round finding by finding: a
// host whose VMs the agent reaches in part fails over the part it agrees
// on. What it agrees on is reported as one event per kind (one host event
// for a host's VMs); what it disagrees on is held, and newly disagreed
// findings get one Disagreement event per kind.
func (e *evaluator) settleGroup(ctx context.Context, a answer, live []int) {
	now := e.clock.Now()
	agreed, disagreed := map[EventKind][]int{}, map[EventKind][]int{}
	for _, i := range live {
		tr := e.tracked[a.keys[i]]
		if a.verdicts[i].agree {
			tr.state, tr.sent = reported, tr.f.Kind
			agreed[tr.f.Kind] = append(agreed[tr.f.Kind], i)
			continue
		}
		tr.state, tr.since = held, now
		if !tr.disagreed {
			tr.disagreed = true
			disagreed[tr.f.Kind] = append(disagreed[tr.f.Kind], i)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(agreed)) {
		f := e.merge(a, agreed[k], "; confirmed: ")
		e.emit(ctx, Event{Kind: k, Services: f.Services, VMs: f.VMs, Hypervisor: f.Hypervisor, Reason: f.Reason})
	}
	for _, k := range slices.Sorted(maps.Keys(disagreed)) {
		f := e.merge(a, disagreed[k], "; ")
		e.emit(ctx, Event{Kind: Disagreement, Of: k, Services: f.Services, VMs: f.VMs, Hypervisor: f.Hypervisor, Reason: f.Reason})
	}
}

// merge is the findings of a.keys at idx as one finding on a.hypervisor,
// its reason the findings' reasons, then sep and the agent's answers.
func (e *evaluator) merge(a answer, idx []int, sep string) Finding {
	f := Finding{Hypervisor: a.hypervisor}
	var seen, answers []string
	for _, i := range idx {
		m := a.fs[i]
		f.VMs = append(f.VMs, m.VMs...)
		f.Services = append(f.Services, m.Services...)
		seen = append(seen, m.Reason)
		answers = append(answers, a.verdicts[i].reason)
	}
	f = sorted(f)
	f.VMs = slices.Compact(f.VMs)
	f.Reason = fmt.Sprintf("%d findings on hypervisor %s within the settle window: %s%s%s",
		len(idx), a.hypervisor, strings.Join(seen, "; "), sep, strings.Join(answers, "; "))
	return f
}
