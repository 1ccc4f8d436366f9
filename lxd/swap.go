package lxd

import (
	"context"
	"fmt"
	"maps"
	"strings"

	incus "github.com/lxc/incus/v6/client"
	"github.com/lxc/incus/v6/shared/api"

	"github.com/understudy/understudy/inventory"
)

// Swap puts the stopped instance staging in the place of the stopped
// instance live, and live in staging's place: afterwards the instance
// named live has staging's file system with live's config (its own
// volatile keys aside), devices and profiles, and the instance named
// staging holds what live held, the base of the next Refresh. It is three
// renames through a temporary name; a failure on the way renames back, so
// an instance named live always comes out whole (the old or the new). A
// running instance gives ErrTargetRunning: nothing that serves or may
// serve is swapped. The staging mark (StagingOfKey) moves with the role:
// the instance that becomes the staging copy gets it, the one that
// becomes live loses it.
func (c *Client) Swap(ctx context.Context, live, staging string) error {
	if err := c.swap(ctx, live, staging); err != nil {
		return busy(fmt.Errorf("swap instance %q with %q on %q: %w", live, staging, c.name, err))
	}
	return nil
}

// swapSuffix names the live instance while it is out of the way.
const swapSuffix = inventory.SyncSwapSuffix

func (c *Client) swap(ctx context.Context, live, staging string) error {
	cur, curTag, err := c.getInstance(ctx, live)
	if err != nil {
		return fmt.Errorf("read %q: %w", live, err)
	}
	next, etag, err := c.getInstance(ctx, staging)
	if err != nil {
		return fmt.Errorf("read %q: %w", staging, err)
	}
	for _, i := range []*api.Instance{cur, next} {
		if i.StatusCode != api.Stopped {
			return fmt.Errorf("%q is %s: %w", i.Name, i.Status, ErrTargetRunning)
		}
	}
	r := newReverter(ctx, c.log)
	defer r.fail()
	put := cur.Writable()
	put.Config = swapConfig(cur.Config, next.Config)
	put.Devices = cloneDevices(put.Devices)
	if err := run(ctx, func() (incus.Operation, error) { return c.srv.UpdateInstance(staging, put, etag) }); err != nil {
		return fmt.Errorf("give %q the config of %q: %w", staging, live, notFound(err))
	}
	old := next.Writable()
	r.add("give the staging instance its config back", func(ctx context.Context) error {
		return run(ctx, func() (incus.Operation, error) { return c.srv.UpdateInstance(staging, old, "") })
	})
	if err := c.markAside(ctx, r, cur, curTag, next); err != nil {
		return err
	}
	aside := live + swapSuffix
	if err := c.rename(ctx, live, aside); err != nil {
		return err
	}
	r.add("rename the live instance back", func(ctx context.Context) error { return c.rename(ctx, aside, live) })
	if err := c.rename(ctx, staging, live); err != nil {
		return err
	}
	r.add("rename the staging instance back", func(ctx context.Context) error { return c.rename(ctx, live, staging) })
	if err := c.rename(ctx, aside, staging); err != nil {
		return err
	}
	r.success()
	return nil
}

// rename renames the stopped instance from to to.
func (c *Client) rename(ctx context.Context, from, to string) error {
	err := run(ctx, func() (incus.Operation, error) { return c.srv.RenameInstance(from, api.InstancePost{Name: to}) })
	if err != nil {
		return fmt.Errorf("rename %q to %q: %w", from, to, notFound(err))
	}
	return nil
}

// swapConfig is live's config without its volatile keys, with staging's
// volatile keys (the daemon's own state of that instance: its UUID, its
// MAC addresses, its idmap), and without the staging marks.
func swapConfig(live, staging map[string]string) map[string]string {
	out := make(map[string]string, len(live))
	for k, v := range live {
		if !strings.HasPrefix(k, "volatile.") {
			out[k] = v
		}
	}
	for k, v := range staging {
		if strings.HasPrefix(k, "volatile.") {
			out[k] = v
		}
	}
	delete(out, StagingOfKey)
	delete(out, StagingOwnerKey)
	return out
}

// markAside marks the live instance cur (read with etag) as the staging
// copy of its own name, kept by the owner of the staging copy next, before
// it becomes it, with an undo on r.
func (c *Client) markAside(ctx context.Context, r *reverter, cur *api.Instance, etag string, next *api.Instance) error {
	put := cur.Writable()
	old := put
	put.Config = maps.Clone(put.Config)
	if put.Config == nil {
		put.Config = map[string]string{}
	}
	put.Config[StagingOfKey] = cur.Name
	setOrDelete(put.Config, StagingOwnerKey, next.Config[StagingOwnerKey])
	put.Devices = cloneDevices(put.Devices)
	if err := run(ctx, func() (incus.Operation, error) { return c.srv.UpdateInstance(cur.Name, put, etag) }); err != nil {
		return fmt.Errorf("mark %q as the next staging copy (%q): %w", cur.Name, next.Name, notFound(err))
	}
	r.add("take the staging mark off the live instance", func(ctx context.Context) error {
		return run(ctx, func() (incus.Operation, error) { return c.srv.UpdateInstance(cur.Name, old, "") })
	})
	return nil
}
