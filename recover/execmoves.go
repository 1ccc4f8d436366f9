package recover

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
)

// doMove performs one attempt of a migration or failback step.
func (r *runner) doMove(ctx context.Context, svc Service, a RunStep) (StepResult, error) {
	d := r.e.cfg.Deps
	switch a.Step.Kind {
	case StepHold, StepRelease:
		return r.holdOrRelease(ctx, svc, a)
	case StepCopy:
		if d.Migrator == nil {
			return StepResult{}, fmt.Errorf("copy %q: no migrator configured: %w", svc.Name, ErrPermanent)
		}
		var addr netip.Addr
		var how string
		var err error
		if nm, ok := d.Migrator.(NotedMigrator); ok {
			addr, how, err = nm.CopyNoted(ctx, svc, a.Origin.Host, a.Target)
		} else {
			addr, err = d.Migrator.Copy(ctx, svc, a.Origin.Host, a.Target)
		}
		if err != nil {
			return StepResult{}, fmt.Errorf("copy %q from %q to %q: %w", svc.Name, a.Origin.Host, a.Target, err)
		}
		if !addr.IsValid() {
			return StepResult{}, fmt.Errorf("copy %q to %q: the migrator returned no address", svc.Name, a.Target)
		}
		note := fmt.Sprintf("%s -> %s at %s", a.Origin.Host, a.Target, addr)
		if how != "" {
			note += ": " + how
		}
		return StepResult{Address: addr, Note: note}, nil
	case StepUndoCopy:
		return r.undoCopy(ctx, svc, a)
	case StepResetStandby:
		return r.resetStandby(ctx, svc, a)
	case StepVacate:
		if a.Origin.Where == AtSpare {
			if d.Migrator == nil {
				return StepResult{}, fmt.Errorf("vacate %q: no migrator configured: %w", svc.Name, ErrPermanent)
			}
			if err := d.Migrator.DeleteCopy(ctx, svc, a.Origin.Host); err != nil {
				return StepResult{}, fmt.Errorf("delete %q from spare %q: %w", svc.Name, a.Origin.Host, err)
			}
			return StepResult{Note: "deleted the container on spare " + a.Origin.Host}, nil
		}
		return r.resetStandby(ctx, svc, a)
	case StepDNSRevert:
		return r.dnsRevert(ctx, svc, a)
	}
	return StepResult{}, fmt.Errorf("step %q has no executor: %w", a.Step.Kind, ErrPermanent)
}

func (r *runner) holdOrRelease(ctx context.Context, svc Service, a RunStep) (StepResult, error) {
	h := r.e.cfg.Deps.Holder
	if h == nil {
		// The placement's Held flag, persisted when this step is done,
		// reaches the proxies through the placement stream.
		return StepResult{Note: "through the placement stream"}, nil
	}
	verb, fn := "hold", h.Hold
	if a.Step.Kind == StepRelease {
		verb, fn = "release", h.Release
	}
	if err := fn(ctx, svc.Name); err != nil {
		return StepResult{}, fmt.Errorf("%s requests of %q at the proxy: %w", verb, svc.Name, err)
	}
	return StepResult{}, nil
}

// undoCopy deletes the spare's copy and makes sure the standby's container
// serves again (an activation starts it when the copy stopped it).
func (r *runner) undoCopy(ctx context.Context, svc Service, a RunStep) (StepResult, error) {
	d := r.e.cfg.Deps
	if d.Migrator == nil || d.Activator == nil {
		return StepResult{}, fmt.Errorf("undo copy of %q: no migrator or activator configured: %w", svc.Name, ErrPermanent)
	}
	if err := d.Migrator.DeleteCopy(ctx, svc, a.Target); err != nil {
		return StepResult{}, fmt.Errorf("delete the copy of %q on %q: %w", svc.Name, a.Target, err)
	}
	act, err := d.Activator.Activate(ctx, a.Epoch, svc.Name)
	if err != nil {
		return StepResult{}, fmt.Errorf("activate %q on standby %q again: %w", svc.Name, a.Origin.Host, err)
	}
	return StepResult{Note: fmt.Sprintf("deleted the copy on %s; %s serves at %s", a.Target, a.Origin.Host, act.Address)}, nil
}

func (r *runner) resetStandby(ctx context.Context, svc Service, a RunStep) (StepResult, error) {
	d := r.e.cfg.Deps.Deactivator
	if d == nil {
		return StepResult{}, fmt.Errorf("reset %q on standby %q: no deactivator configured: %w", svc.Name, svc.Standby, ErrPermanent)
	}
	if err := d.Deactivate(ctx, a.Epoch, svc.Name); err != nil {
		return StepResult{}, fmt.Errorf("deactivate %q on standby %q: %w", svc.Name, svc.Standby, err)
	}
	return StepResult{}, nil
}

// dnsRevert swaps the record back from the move's new address to the old
// one, in case an attempt of dns-replace took effect before it failed. A
// record that does not hold the new address has nothing of the move's to
// revert.
func (r *runner) dnsRevert(ctx context.Context, svc Service, a RunStep) (StepResult, error) {
	d := r.e.cfg.Deps.DNS
	err := d.Replace(ctx, svc.FQDN, []netip.Addr{a.From}, []netip.Addr{a.To})
	if err == nil {
		return StepResult{Note: fmt.Sprintf("%s -> %s", a.To, a.From)}, nil
	}
	if !errors.Is(err, ErrPrecondition) {
		return StepResult{}, fmt.Errorf("revert %s %s -> %s: %w", svc.FQDN, a.To, a.From, err)
	}
	now, lerr := d.Lookup(ctx, svc.FQDN)
	if lerr != nil {
		return StepResult{Note: fmt.Sprintf("record does not hold %s; nothing to revert", a.To)}, nil
	}
	return StepResult{Note: fmt.Sprintf("record holds %v, not %s; nothing to revert", now, a.To)}, nil
}
