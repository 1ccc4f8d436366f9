package executor

import (
	"context"
	"fmt"

	"github.com/understudy/understudy/recover"
)

// drain runs a move's drain or undrain hook: POSTs the incident to the
// step's URL (Notification.Event is "drain" or "undrain"), or runs its
// command with the incident's variables (hookEnv). Both must be
// idempotent: like every move step, they run again after a restart.
func (r *runner) drain(ctx context.Context, svc recover.Service, a recover.RunStep, rec recover.Record) (recover.StepResult, error) {
	kind := string(a.Step.Kind)
	switch {
	case a.Step.URL != "":
		if r.e.cfg.Deps.Notifier == nil {
			return recover.StepResult{}, fmt.Errorf("%s %q: no notifier configured: %w", kind, svc.Name, recover.ErrPermanent)
		}
		n := Notification{Event: kind, Service: rec.Service, Incident: withoutURLs(rec.Incident),
			Key: fmt.Sprintf("%s/%d", a.Incident, a.Index)}
		if err := r.e.cfg.Deps.Notifier.Notify(ctx, a.Step.URL, n); err != nil {
			return recover.StepResult{}, fmt.Errorf("%s %q: %w", kind, svc.Name, err) // the notifier's error names the host, not the URL
		}
		return recover.StepResult{Note: "webhook"}, nil
	case len(a.Step.Command) > 0:
		if err := r.e.cfg.Deps.Execer.Exec(ctx, a.Step.Command, hookEnv(svc, a, rec)); err != nil {
			return recover.StepResult{}, fmt.Errorf("%s %q: run %q: %w", kind, svc.Name, a.Step.Command[0], err)
		}
		return recover.StepResult{Note: "command " + a.Step.Command[0]}, nil
	}
	return recover.StepResult{}, fmt.Errorf("%s %q: neither url nor command: %w", kind, svc.Name, recover.ErrPermanent)
}
