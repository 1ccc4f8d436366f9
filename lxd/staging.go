package lxd

import (
	"context"
	"errors"
	"fmt"
	"maps"

	incus "github.com/lxc/incus/v6/client"
	"github.com/lxc/incus/v6/shared/api"

	"github.com/understudy/understudy/inventory"
)

// StagingOfKey marks an instance as the staging copy of a whole-instance
// sync: its value is the name of the instance it is the staging copy of
// (the standby container, named after the service). RefreshStaging sets
// it on the staging copy, Swap moves it to the instance that becomes the
// staging copy; DeleteStaging deletes only an instance that carries it
// and is named after it.
const StagingOfKey = "user.understudy.staging-of"

// StagingOwnerKey names who keeps a staging copy (RefreshOptions.Owner:
// the monitor sets the standby VM's agent URL), so that two inventories
// whose standby VMs share one daemon each remove only their own staging
// copies. It moves with StagingOfKey.
const StagingOwnerKey = "user.understudy.staging-owner"

// ErrNotStaging: DeleteStaging was asked to delete an instance that is
// not the named instance's staging copy (wrong name, no mark, another
// instance's mark), or one that runs (staging copies are never started).
var ErrNotStaging = errors.New("not a staging copy of a whole-instance sync")

// StagingCopy is a staging copy found on a daemon: Name is the instance,
// Of the instance it is the staging copy of (its StagingOfKey), Owner who
// keeps it (its StagingOwnerKey).
type StagingCopy struct{ Name, Of, Owner string }

// isStaging reports whether inst is the staging copy of live, by name and
// by mark.
func isStaging(inst *api.Instance, live string) bool {
	return live != "" && inst.Name == live+inventory.SyncStagingSuffix && inst.Config[StagingOfKey] == live
}

// StagingCopies lists the daemon's staging copies of whole-instance syncs:
// the instances marked with StagingOfKey and named after the instance
// their mark names (+ inventory.SyncStagingSuffix). Nothing else is
// listed, whatever its name.
func (c *Client) StagingCopies(ctx context.Context) ([]StagingCopy, error) {
	insts, err := call(ctx, func() ([]api.Instance, error) { return c.srv.GetInstances(api.InstanceTypeAny) })
	if err != nil {
		return nil, fmt.Errorf("list staging copies on %q: %w", c.name, err)
	}
	var out []StagingCopy
	for i := range insts {
		if of := insts[i].Config[StagingOfKey]; isStaging(&insts[i], of) {
			out = append(out, StagingCopy{Name: insts[i].Name, Of: of, Owner: insts[i].Config[StagingOwnerKey]})
		}
	}
	return out, nil
}

// DeleteStaging deletes live's staging copy (live +
// inventory.SyncStagingSuffix) after reading it again: only when it
// carries live's mark (StagingOfKey) and owner's (StagingOwnerKey) and is
// stopped, else ErrNotStaging. An absent copy is not an error.
func (c *Client) DeleteStaging(ctx context.Context, live, owner string) error {
	name := live + inventory.SyncStagingSuffix
	inst, _, err := c.getInstance(ctx, name)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("delete staging copy %q on %q: %w", name, c.name, err)
	case !isStaging(inst, live):
		return fmt.Errorf("delete staging copy %q on %q: its %s is %q: %w", name, c.name, StagingOfKey, inst.Config[StagingOfKey], ErrNotStaging)
	case inst.Config[StagingOwnerKey] != owner:
		return fmt.Errorf("delete staging copy %q on %q: its %s is %q, not %q: %w", name, c.name, StagingOwnerKey, inst.Config[StagingOwnerKey], owner, ErrNotStaging)
	case inst.StatusCode != api.Stopped:
		return fmt.Errorf("delete staging copy %q on %q: it is %s: %w", name, c.name, inst.Status, ErrNotStaging)
	}
	err = c.runOp(ctx, func() (incus.Operation, error) { return c.srv.DeleteInstance(name) })
	if err != nil && !isNotFound(err) {
		return busy(fmt.Errorf("delete staging copy %q on %q: %w", name, c.name, err))
	}
	return nil
}

// markStaging marks the instance staging as the staging copy of live kept
// by owner, if it is not yet (a staging copy made before the mark existed).
func (c *Client) markStaging(ctx context.Context, staging, live, owner string) error {
	inst, etag, err := c.getInstance(ctx, staging)
	if err != nil {
		return fmt.Errorf("read %q: %w", staging, err)
	}
	if inst.Config[StagingOfKey] == live && inst.Config[StagingOwnerKey] == owner {
		return nil
	}
	put := inst.Writable()
	put.Config = maps.Clone(put.Config)
	if put.Config == nil {
		put.Config = map[string]string{}
	}
	put.Config[StagingOfKey] = live
	setOrDelete(put.Config, StagingOwnerKey, owner)
	if err := run(ctx, func() (incus.Operation, error) { return c.srv.UpdateInstance(staging, put, etag) }); err != nil {
		return fmt.Errorf("mark %q as the staging copy of %q: %w", staging, live, notFound(err))
	}
	return nil
}

// notSwapping is Ensure's guard against a Swap's window: called once the
// instance name was found missing, it fails with ErrSwapping when the
// swap's aside instance (name + inventory.SyncSwapSuffix) exists.
//
// Why this order is enough across processes: Swap renames live to aside,
// staging to live, aside to staging. The name is missing only between the
// first two renames, and then aside exists until after the second, which
// gives the name back. So an instance found missing because of a swap
// is, when aside is looked up afterwards, either still in that window
// (aside found: ErrSwapping) or back under its name (the create then
// fails on the taken name, and create reconciles the existing instance).
// A swap's failure renames aside back to live: the same two outcomes.
func (c *Client) notSwapping(ctx context.Context, name string) error {
	aside := name + inventory.SyncSwapSuffix
	_, _, err := c.getInstance(ctx, aside)
	switch {
	case err == nil:
		return fmt.Errorf("%q is missing and %q exists: %w", name, aside, ErrSwapping)
	case errors.Is(err, ErrNotFound):
		return nil
	default:
		return fmt.Errorf("look up %q: %w", aside, err)
	}
}

// setOrDelete sets m[k] to v, or deletes k when v is empty.
func setOrDelete(m map[string]string, k, v string) {
	if v == "" {
		delete(m, k)
		return
	}
	m[k] = v
}
