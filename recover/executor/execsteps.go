package executor

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/understudy/understudy/playbooks"
	"github.com/understudy/understudy/recover"
)

// runStep performs one attempt of a step, bounded by its deadline, and
// returns the event that reports it.
func (r *runner) runStep(a recover.RunStep, rec recover.Record) recover.Event {
	ctx, cancel := context.WithDeadline(r.ctx, a.Deadline)
	defer cancel()
	start := r.e.cfg.Clock.Now()
	log := r.log.With("incident", a.Incident, "step", a.Index, "kind", a.Step.Kind, "attempt", a.Attempt)
	log.Info("step started", "resumed", a.Resumed)
	res, err := r.do(ctx, a, rec)
	at := r.e.cfg.Clock.Now()
	if err != nil {
		if ctx.Err() != nil && r.ctx.Err() == nil {
			err = fmt.Errorf("%w (timeout %s)", err, a.Step.Timeout)
		}
		permanent := errors.Is(err, recover.ErrPermanent) || errors.Is(err, recover.ErrPrecondition)
		log.Warn("step failed", "err", err, "permanent", permanent, "seconds", at.Sub(start).Seconds())
		ev := recover.StepFailed{At: at, Incident: a.Incident, Step: a.Index, Attempt: a.Attempt, Err: err.Error(), Permanent: permanent}
		if u, ok := errors.AsType[*recover.UnprotectedError](err); ok {
			ev.Unprotected = u.Reason
		}
		return ev
	}
	log.Info("step done", "seconds", at.Sub(start).Seconds(), "note", res.Note)
	return recover.StepDone{At: at, Incident: a.Incident, Step: a.Index, Attempt: a.Attempt, Result: res}
}

// do dispatches on the step's kind.
func (r *runner) do(ctx context.Context, a recover.RunStep, rec recover.Record) (recover.StepResult, error) {
	svc := r.m.Service()
	d := r.e.cfg.Deps
	if a.Step.Kind == recover.StepDrain || a.Step.Kind == recover.StepUndrain {
		return r.drain(ctx, svc, a, rec)
	}
	if recover.IsMoveStep(a.Step.Kind) {
		return r.doMove(ctx, svc, a)
	}
	switch a.Step.Kind {
	case playbooks.Confirm:
		return r.confirm(ctx, svc)
	case playbooks.Fence:
		return r.fence(ctx, svc, a, rec)
	case playbooks.Activate:
		act, err := d.Activator.Activate(ctx, a.Epoch, svc.Name)
		if err != nil {
			return recover.StepResult{}, fmt.Errorf("activate %q on standby %q: %w", svc.Name, svc.Standby, err)
		}
		if !act.Address.IsValid() {
			return recover.StepResult{}, fmt.Errorf("activate %q on standby %q: the agent returned no address", svc.Name, svc.Standby)
		}
		return recover.StepResult{Address: act.Address, Restored: act.Restored, Fallback: act.Fallback, Phases: act.Phases}, nil
	case playbooks.WaitHealthy:
		return recover.StepResult{}, r.waitHealthy(ctx, svc, a.To)
	case playbooks.DNSReplace:
		return r.dnsReplace(ctx, svc, a)
	case playbooks.Notify:
		return r.notifyStep(ctx, a, rec)
	case playbooks.Exec:
		if err := d.Execer.Exec(ctx, a.Step.Command, hookEnv(svc, a, rec)); err != nil {
			return recover.StepResult{}, fmt.Errorf("run hook %q: %w", a.Step.Command[0], err)
		}
		return recover.StepResult{}, nil
	}
	return recover.StepResult{}, fmt.Errorf("step %q has no executor: %w", a.Step.Kind, recover.ErrPermanent)
}

func (r *runner) confirm(ctx context.Context, svc recover.Service) (recover.StepResult, error) {
	down, detail, err := r.e.cfg.Deps.Confirmer.ConfirmDown(ctx, svc)
	if err != nil {
		return recover.StepResult{}, fmt.Errorf("confirm %q is down from standby %q: %w", svc.Name, svc.Standby, err)
	}
	return recover.StepResult{Disagree: !down, Note: detail}, nil
}

// fence runs the service's fence policy. A hypervisor fence with
// fence-method freeze freezes the primary and reports it Frozen: the core
// asks for its force-stop after the DNS flip (StopFenced, stopFenced).
func (r *runner) fence(ctx context.Context, svc recover.Service, a recover.RunStep, rec recover.Record) (recover.StepResult, error) {
	switch svc.Fence {
	case "hypervisor":
		if svc.FenceMethod == recover.FenceFreeze {
			if err := r.e.cfg.Deps.Fencer.Freeze(ctx, svc.Hypervisor, svc.Instance); err != nil {
				return recover.StepResult{}, fmt.Errorf("freeze %q on %q: %w", svc.Instance, svc.Hypervisor, err)
			}
			return recover.StepResult{Frozen: true, Note: "frozen; force-stopped after the DNS flip"}, nil
		}
		if err := r.e.cfg.Deps.Fencer.ForceStop(ctx, svc.Hypervisor, svc.Instance); err != nil {
			return recover.StepResult{}, fmt.Errorf("force-stop %q on %q: %w", svc.Instance, svc.Hypervisor, err)
		}
		return recover.StepResult{}, nil
	case "command":
		if len(svc.FenceCommand) == 0 {
			return recover.StepResult{}, fmt.Errorf("fence %q: no fence command: %w", svc.Name, recover.ErrPermanent)
		}
		if err := r.e.cfg.Deps.Execer.Exec(ctx, svc.FenceCommand, hookEnv(svc, a, rec)); err != nil {
			return recover.StepResult{}, fmt.Errorf("fence command %q: %w", svc.FenceCommand[0], err)
		}
		return recover.StepResult{}, nil
	}
	return recover.StepResult{}, fmt.Errorf("fence %q: unknown policy %q: %w", svc.Name, svc.Fence, recover.ErrPermanent)
}

// waitHealthy runs the service check against addr until it passes.
func (r *runner) waitHealthy(ctx context.Context, svc recover.Service, addr netip.Addr) error {
	for n := 1; ; n++ {
		err := r.e.cfg.Deps.Health.Check(ctx, svc.Name, addr)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("check %q at %s: %d checks failed, last: %w", svc.Name, addr, n, err)
		case <-r.e.cfg.Clock.After(r.e.cfg.HealthInterval):
		}
	}
}

// dnsReplace flips the record from the primary's address to the standby's.
// When the compare-and-swap fails because the record already holds the new
// address (an earlier attempt, or the run before a restart, did it), the
// step is done.
// Then it waits for the dns.verify servers (verifyDNS).
func (r *runner) dnsReplace(ctx context.Context, svc recover.Service, a recover.RunStep) (recover.StepResult, error) {
	res, err := r.swapDNS(ctx, svc, a)
	if err != nil {
		return res, err
	}
	res.Flipped = r.e.cfg.Clock.Now()
	r.verifyDNS(ctx, svc, a, &res)
	return res, nil
}

// swapDNS is dns-replace's compare-and-swap.
func (r *runner) swapDNS(ctx context.Context, svc recover.Service, a recover.RunStep) (recover.StepResult, error) {
	d := r.e.cfg.Deps.DNS
	to, from := []netip.Addr{a.To}, []netip.Addr{a.From}
	err := d.Replace(ctx, svc.FQDN, to, from)
	if err == nil {
		return recover.StepResult{Note: fmt.Sprintf("%s -> %s", a.From, a.To)}, nil
	}
	if !errors.Is(err, recover.ErrPrecondition) {
		return recover.StepResult{}, fmt.Errorf("replace %s %s -> %s: %w", svc.FQDN, a.From, a.To, err)
	}
	now, lerr := d.Lookup(ctx, svc.FQDN)
	if lerr != nil {
		return recover.StepResult{}, fmt.Errorf("replace %s: %w; and look it up: %v", svc.FQDN, err, lerr)
	}
	if slices.Equal(now, to) {
		return recover.StepResult{Note: fmt.Sprintf("record already held %s", a.To)}, nil
	}
	return recover.StepResult{}, fmt.Errorf("replace %s: record holds %v, expected %s: %w", svc.FQDN, now, a.From, err)
}

// verifyDNS waits, within the step's deadline less a margin for reporting
// back, until every dns.verify server answers the new address. A server that
// does not is a warning on a step that is still done: the authoritative
// primary holds the new record, and the servers catch up on their own (or an
// operator looks at them); failing over again would not help.
func (r *runner) verifyDNS(ctx context.Context, svc recover.Service, a recover.RunStep, res *recover.StepResult) {
	v := r.e.cfg.Deps.DNSVerify
	if v == nil {
		return
	}
	vctx, cancel := context.WithDeadline(ctx, a.Deadline.Add(-verifyMargin(a.Deadline.Sub(r.e.cfg.Clock.Now()))))
	defer cancel()
	results := v.VerifyDNS(vctx, svc.FQDN, []netip.Addr{a.To})
	if len(results) == 0 {
		return
	}
	res.Verified = true
	var took time.Duration
	for _, s := range results {
		if s.Err == nil {
			took = max(took, s.Took)
			continue
		}
		res.Verified = false
		res.Warnings = append(res.Warnings, fmt.Sprintf("dns.verify: %s does not answer %s for %s: %v", s.Server, a.To, svc.FQDN, s.Err))
		res.Unverified = append(res.Unverified, s.Server)
		r.e.cfg.Metrics.dnsVerifyFailed(s.Server)
		r.log.Warn("dns.verify server did not answer the new address in time", "server", s.Server, "name", svc.FQDN, "want", a.To, "err", s.Err)
	}
	if res.Verified {
		r.log.Info("dns.verify servers answer the new address", "name", svc.FQDN, "servers", len(results), "took", took)
	}
}

// verifyMargin is the part of a step's remaining time kept for reporting the
// result before the deadline fails the step: a quarter, at most a second.
func verifyMargin(left time.Duration) time.Duration {
	return min(max(left, 0)/4, time.Second)
}

func (r *runner) notifyStep(ctx context.Context, a recover.RunStep, rec recover.Record) (recover.StepResult, error) {
	url := a.Step.URL
	if url == "" {
		url = r.e.cfg.AlertURL
	}
	if url == "" {
		return recover.StepResult{Note: "no webhook configured"}, nil
	}
	n := Notification{Event: "incident", Service: rec.Service, Incident: withoutURLs(rec.Incident),
		Key: fmt.Sprintf("%s/%d", a.Incident, a.Index)} // the same on every attempt: a delivered one that timed out is not news
	if err := r.e.cfg.Deps.Notifier.Notify(ctx, url, n); err != nil {
		// The URL may carry a token: the error names no more than the
		// notifier's own error does (its host).
		return recover.StepResult{}, fmt.Errorf("notify: %w", err)
	}
	return recover.StepResult{}, nil
}

// alert posts an alert to the alert webhook (the notify step's webhook
// code, one implementation), bounded by a timeout.
func (r *runner) alert(a recover.Alert, rec recover.Record) {
	if r.e.cfg.AlertURL == "" || r.e.cfg.Deps.Notifier == nil {
		return
	}
	ctx, cancel := context.WithTimeout(r.e.ctx, 10*time.Second)
	defer cancel()
	n := Notification{Event: "alert", Alert: a.Kind, Service: a.Service, Reason: a.Reason,
		Key: fmt.Sprintf("alert/%s/damped/%d", a.Service, rec.DampedUntil.Unix())}
	if a.Incident != "" && rec.Incident != nil {
		// The same alert of the same incident has the same key on every
		// monitor (one that resumes it alerts again): receivers deduplicate.
		n.Incident = withoutURLs(rec.Incident)
		n.Key = fmt.Sprintf("alert/%s/%s/%d", a.Incident, a.Kind, rec.Incident.Attempts)
		if a.Subject != "" {
			n.Key += "/" + a.Subject
		}
	}
	if err := r.e.cfg.Deps.Notifier.Notify(ctx, r.e.cfg.AlertURL, n); err != nil {
		r.log.Error("send alert", "err", err)
	}
}

// hookEnv is the environment of exec steps and fence commands.
func hookEnv(svc recover.Service, a recover.RunStep, rec recover.Record) []string {
	env := []string{
		"UNDERSTUDY_SERVICE=" + svc.Name,
		"UNDERSTUDY_FQDN=" + svc.FQDN,
		"UNDERSTUDY_VM=" + svc.VM,
		"UNDERSTUDY_STANDBY=" + svc.Standby,
		"UNDERSTUDY_INCIDENT=" + a.Incident,
		"UNDERSTUDY_STEP=" + string(a.Step.Kind),
		"UNDERSTUDY_ATTEMPT=" + strconv.Itoa(a.Attempt),
		"UNDERSTUDY_EPOCH=" + strconv.FormatUint(a.Epoch, 10),
		"UNDERSTUDY_STATE=" + rec.State.String(),
	}
	if a.From.IsValid() {
		env = append(env, "UNDERSTUDY_FROM="+a.From.String())
	}
	if a.To.IsValid() {
		env = append(env, "UNDERSTUDY_TO="+a.To.String())
	}
	return env
}
