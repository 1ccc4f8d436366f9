package monitor

import (
	"context"
	"errors"
	"fmt"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/lxd"
	"github.com/understudy/understudy/monitor/contentsync"
	"github.com/understudy/understudy/recover"
)

// syncInstances copies whole instances for the content sync
// (sync.whole-instance): the primary instance through its hypervisor's
// client, the staging copy and the standby container through the standby
// VM's Incus (the migrator's clients).
type syncInstances struct{ c *Controller }

var (
	_ contentsync.Instances = syncInstances{}
	_ contentsync.Stagings  = syncInstances{}
)

// refresher is what refreshes an instance into another daemon: *lxd.Client.
type refresher interface {
	RefreshStaging(ctx context.Context, dst *lxd.Client, name, live, staging string, opts lxd.RefreshOptions) (lxd.RefreshResult, error)
}

// standbyClienter is what reaches a standby VM's Incus: *migrate.LXD.
type standbyClienter interface {
	StandbyClient(ctx context.Context, standby string) (*lxd.Client, error)
}

// standby returns the service and its standby VM's client.
func (s syncInstances) standby(ctx context.Context, service string) (*inventory.Service, *lxd.Client, error) {
	svc := s.c.plan().Inv.Service(service)
	if svc == nil {
		return nil, nil, fmt.Errorf("service %q is not in the inventory", service)
	}
	sc, ok := s.c.mig.(standbyClienter)
	if !ok {
		return nil, nil, fmt.Errorf("the migrator (%T) has no access to standby %q", s.c.mig, svc.Standby)
	}
	dst, err := sc.StandbyClient(ctx, svc.Standby)
	return svc, dst, err
}

// primary returns the client of the hypervisor of the service's primary
// VM, and the VM's instance name.
func (s syncInstances) primary(ctx context.Context, svc *inventory.Service) (refresher, string, error) {
	vm := s.c.plan().Inv.VM(svc.VM)
	if vm == nil {
		return nil, "", fmt.Errorf("VM %q is not in the inventory", svc.VM)
	}
	hv, err := s.c.conns.Hypervisor(ctx, vm.Hypervisor)
	if err != nil {
		return nil, "", err
	}
	src, ok := hv.(refresher)
	if !ok {
		return nil, "", fmt.Errorf("hypervisor %q: its client (%T) cannot copy instances", vm.Hypervisor, hv)
	}
	return src, vm.Instance, nil
}

// Refresh refreshes the primary instance into the service's staging copy,
// which first catches up with the standby container within the standby
// VM (lxd.Client.RefreshStaging).
func (s syncInstances) Refresh(ctx context.Context, service string, lim *lxd.Limiter) (contentsync.Stats, error) {
	svc, dst, err := s.standby(ctx, service)
	if err != nil {
		return contentsync.Stats{}, err
	}
	src, instance, err := s.primary(ctx, svc)
	if err != nil {
		return contentsync.Stats{}, err
	}
	// The standby agent names the container after the service.
	res, err := src.RefreshStaging(ctx, dst, instance, svc.Name, svc.Name+inventory.SyncStagingSuffix,
		lxd.RefreshOptions{Limiter: lim, Owner: s.owner(svc.Standby)})
	if err != nil {
		return contentsync.Stats{}, err
	}
	return contentsync.Stats{Sent: max(res.SentBytes, 0)}, nil
}

// Swap puts the staging copy in the place of the stopped standby
// container.
func (s syncInstances) Swap(ctx context.Context, service string) error {
	svc, dst, err := s.standby(ctx, service)
	if err != nil {
		return err
	}
	return dst.Swap(ctx, svc.Name, svc.Name+inventory.SyncStagingSuffix)
}

// owner is the owner mark of the staging copies on standby VM sb
// (lxd.StagingOwnerKey): its agent's URL, which tells this inventory's
// copies from another's on a daemon they share.
func (s syncInstances) owner(sb string) string {
	if vm := s.c.plan().Inv.StandbyVM(sb); vm != nil {
		return vm.Agent
	}
	return ""
}

// Stagings lists the staging copies this inventory keeps (by the owner
// mark) on every standby VM of the inventory whose Incus this monitor
// reaches (standby[].incus); a standby VM without it has no staging
// copies of this monitor's.
func (s syncInstances) Stagings(ctx context.Context) ([]contentsync.Staging, error) {
	sc, ok := s.c.mig.(standbyClienter)
	if !ok {
		return nil, nil
	}
	var out []contentsync.Staging
	var errs []error
	for _, sb := range s.c.plan().Inv.Standby {
		dst, err := sc.StandbyClient(ctx, sb.Name)
		if errors.Is(err, recover.ErrPermanent) {
			continue // its Incus is unknown
		}
		if err == nil {
			var found []lxd.StagingCopy
			if found, err = dst.StagingCopies(ctx); err == nil {
				for _, f := range found {
					if f.Owner == sb.Agent {
						out = append(out, contentsync.Staging{Standby: sb.Name, Service: f.Of})
					}
				}
				continue
			}
		}
		errs = append(errs, fmt.Errorf("standby %q: %w", sb.Name, err))
	}
	return out, errors.Join(errs...)
}

// RemoveStaging deletes the staging copy after lxd.Client.DeleteStaging
// checked its name and marks.
func (s syncInstances) RemoveStaging(ctx context.Context, st contentsync.Staging) error {
	sc, ok := s.c.mig.(standbyClienter)
	if !ok {
		return fmt.Errorf("the migrator (%T) has no access to standby %q", s.c.mig, st.Standby)
	}
	dst, err := sc.StandbyClient(ctx, st.Standby)
	if err != nil {
		return err
	}
	return dst.DeleteStaging(ctx, st.Service, s.owner(st.Standby))
}
