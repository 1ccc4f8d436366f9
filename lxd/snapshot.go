package lxd

import (
	"context"
	"errors"
	"fmt"

	incus "github.com/lxc/incus/v6/client"
	"github.com/lxc/incus/v6/shared/api"
)

// Snapshot takes snapshot snap of the instance, replacing an older snapshot
// of the same name. A stateful snapshot (with the running state, via CRIU)
// is refused with ErrStatefulUnsupported unless SetStateful(true) was called.
func (c *Client) Snapshot(ctx context.Context, name, snap string, stateful bool) error {
	if err := c.snapshot(ctx, name, snap, stateful); err != nil {
		return fmt.Errorf("snapshot instance %q as %q on %q: %w", name, snap, c.name, err)
	}
	return nil
}

func (c *Client) snapshot(ctx context.Context, name, snap string, stateful bool) error {
	if stateful && !c.stateful.Load() {
		return ErrStatefulUnsupported
	}
	_, err := call(ctx, func() (*api.InstanceSnapshot, error) {
		s, _, err := c.srv.GetInstanceSnapshot(name, snap)
		return s, err
	})
	switch {
	case err == nil:
		err := run(ctx, func() (incus.Operation, error) { return c.srv.DeleteInstanceSnapshot(name, snap) })
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("delete older snapshot: %w", err)
		}
	case !isNotFound(err):
		return err
	}
	req := api.InstanceSnapshotsPost{Name: snap, Stateful: stateful}
	return notFound(run(ctx, func() (incus.Operation, error) { return c.srv.CreateInstanceSnapshot(name, req) }))
}

// Restore restores the instance to snapshot snap. A stateful restore is
// refused with ErrStatefulUnsupported unless SetStateful(true) was called.
// It returns ErrNotFound when the instance or the snapshot is missing.
func (c *Client) Restore(ctx context.Context, name, snap string, stateful bool) error {
	if err := c.restore(ctx, name, snap, stateful); err != nil {
		return fmt.Errorf("restore instance %q to %q on %q: %w", name, snap, c.name, err)
	}
	return nil
}

func (c *Client) restore(ctx context.Context, name, snap string, stateful bool) error {
	if stateful && !c.stateful.Load() {
		return ErrStatefulUnsupported
	}
	_, err := call(ctx, func() (*api.InstanceSnapshot, error) {
		s, _, err := c.srv.GetInstanceSnapshot(name, snap)
		return s, err
	})
	if err != nil {
		return notFound(err)
	}
	put := api.InstancePut{Restore: snap, Stateful: stateful}
	err = run(ctx, func() (incus.Operation, error) { return c.srv.UpdateInstance(name, put, "") })
	if errors.Is(notFound(err), ErrNotFound) {
		return ErrNotFound
	}
	return err
}
