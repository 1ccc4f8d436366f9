package executor

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/understudy/understudy/recover"
)

// doMove performs one attempt of a migration or failback step.
func (r *runner) doMove(ctx context.Context, svc recover.Service, a recover.RunStep) (recover.StepResult, error) {
	d := r.e.cfg.Deps
	switch a.Step.Kind {
	case recover.StepHold, recover.StepRelease:
		return r.holdOrRelease(ctx, svc, a)
	case recover.StepCopy:
		if d.Migrator == nil {
			return recover.StepResult{}, fmt.Errorf("copy %q: no migrator configured: %w", svc.Name, recover.ErrPermanent)
		}
		addr, how, err := copyNoted(ctx, d.Migrator, svc, a.Origin.Host, a.Target)
		if err != nil {
			return recover.StepResult{}, fmt.Errorf("copy %q from %q to %q: %w", svc.Name, a.Origin.Host, a.Target, err)
		}
		if !addr.IsValid() {
			return recover.StepResult{}, fmt.Errorf("copy %q to %q: the migrator returned no address", svc.Name, a.Target)
		}
		note := fmt.Sprintf("%s -> %s at %s", a.Origin.Host, a.Target, addr)
		if how != "" {
			note += ": " + how
		}
		return recover.StepResult{Address: addr, Note: note}, nil
	case recover.StepUndoCopy:
		return r.undoCopy(ctx, svc, a)
	case recover.StepResetStandby:
		return r.resetStandby(ctx, svc, a)
	case recover.StepVacate:
		if a.Origin.Where == recover.AtSpare {
			if d.Migrator == nil {
				return recover.StepResult{}, fmt.Errorf("vacate %q: no migrator configured: %w", svc.Name, recover.ErrPermanent)
			}
			if err := d.Migrator.DeleteCopy(ctx, svc, a.Origin.Host); err != nil {
				return recover.StepResult{}, fmt.Errorf("delete %q from spare %q: %w", svc.Name, a.Origin.Host, err)
			}
			return recover.StepResult{Note: "deleted the container on spare " + a.Origin.Host}, nil
		}
		return r.resetStandby(ctx, svc, a)
	case recover.StepDNSRevert:
		return r.dnsRevert(ctx, svc, a)
	}
	return recover.StepResult{}, fmt.Errorf("step %q has no executor: %w", a.Step.Kind, recover.ErrPermanent)
}

func (r *runner) holdOrRelease(ctx context.Context, svc recover.Service, a recover.RunStep) (recover.StepResult, error) {
	h := r.e.cfg.Deps.Holder
	if h == nil {
		// The placement's Held flag, persisted when this step is done,
		// reaches the proxies through the placement stream.
		return recover.StepResult{Note: "through the placement stream"}, nil
	}
	verb, fn := "hold", h.Hold
	if a.Step.Kind == recover.StepRelease {
		verb, fn = "release", h.Release
	}
	if err := fn(ctx, svc.Name); err != nil {
		return recover.StepResult{}, fmt.Errorf("%s requests of %q at the proxy: %w", verb, svc.Name, err)
	}
	return recover.StepResult{}, nil
}

// undoCopy deletes the spare's copy and makes sure the standby's container
// serves again (an activation starts it when the copy stopped it).
func (r *runner) undoCopy(ctx context.Context, svc recover.Service, a recover.RunStep) (recover.StepResult, error) {
	d := r.e.cfg.Deps
	if d.Migrator == nil || d.Activator == nil {
		return recover.StepResult{}, fmt.Errorf("undo copy of %q: no migrator or activator configured: %w", svc.Name, recover.ErrPermanent)
	}
	if err := d.Migrator.DeleteCopy(ctx, svc, a.Target); err != nil {
		return recover.StepResult{}, fmt.Errorf("delete the copy of %q on %q: %w", svc.Name, a.Target, err)
	}
	act, err := d.Activator.Activate(ctx, a.Epoch, svc.Name)
	if err != nil {
		return recover.StepResult{}, fmt.Errorf("activate %q on standby %q again: %w", svc.Name, a.Origin.Host, err)
	}
	return recover.StepResult{Note: fmt.Sprintf("deleted the copy on %s; %s serves at %s", a.Target, a.Origin.Host, act.Address)}, nil
}

func (r *runner) resetStandby(ctx context.Context, svc recover.Service, a recover.RunStep) (recover.StepResult, error) {
	d := r.e.cfg.Deps.Deactivator
	if d == nil {
		return recover.StepResult{}, fmt.Errorf("reset %q on standby %q: no deactivator configured: %w", svc.Name, svc.Standby, recover.ErrPermanent)
	}
	if err := d.Deactivate(ctx, a.Epoch, svc.Name); err != nil {
		return recover.StepResult{}, fmt.Errorf("deactivate %q on standby %q: %w", svc.Name, svc.Standby, err)
	}
	return recover.StepResult{}, nil
}

// dnsRevert swaps the record back from the move's new address to the old
// one, in case an attempt of dns-replace took effect before it failed. A
// record that does not hold the new address has nothing of the move's to
// revert.
func (r *runner) dnsRevert(ctx context.Context, svc recover.Service, a recover.RunStep) (recover.StepResult, error) {
	d := r.e.cfg.Deps.DNS
	err := d.Replace(ctx, svc.FQDN, []netip.Addr{a.From}, []netip.Addr{a.To})
	if err == nil {
		return recover.StepResult{Note: fmt.Sprintf("%s -> %s", a.To, a.From)}, nil
	}
	if !errors.Is(err, recover.ErrPrecondition) {
		return recover.StepResult{}, fmt.Errorf("revert %s %s -> %s: %w", svc.FQDN, a.To, a.From, err)
	}
	now, lerr := d.Lookup(ctx, svc.FQDN)
	if lerr != nil {
		return recover.StepResult{Note: fmt.Sprintf("record does not hold %s; nothing to revert", a.To)}, nil
	}
	return recover.StepResult{Note: fmt.Sprintf("record holds %v, not %s; nothing to revert", now, a.To)}, nil
}

// copyNoted copies through m, and says how the copy was made when m is a
// NotedMigrator ("" otherwise).
func copyNoted(ctx context.Context, m Migrator, svc recover.Service, from, to string) (netip.Addr, string, error) {
	if nm, ok := m.(NotedMigrator); ok {
		return nm.CopyNoted(ctx, svc, from, to)
	}
	addr, err := m.Copy(ctx, svc, from, to)
	return addr, "", err
}
