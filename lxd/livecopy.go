package lxd

import (
	"context"
	"fmt"
	"maps"

	incus "github.com/lxc/incus/v6/client"
	"github.com/lxc/incus/v6/shared/api"
)

// A live copy (CopyOptions.Live) of a running container is done in three
// steps of our own rather than by the daemon's live migration: a stateful
// stop of the source (CRIU dump), a copy of the stopped instance with its
// state (the migration of a stopped stateful instance carries the
// checkpoint), and a stateful start of the copy (CRIU restore). That is
// what Incus's live migration of a container does too, but between two
// Incus 6.0 daemons on this lab's kernel its own protocol took 6.8 s of
// downtime for the slow application against 3.2 s for the same three
// steps (bench/results/restore-incus.md, criu-drill.sh's live and
// checkpoint-move), and it cannot pre-copy here (no CONFIG_MEM_SOFT_DIRTY:
// bench/results/criu-check.txt). The source is left stopped, with its
// checkpoint, as the daemon's live migration leaves it; a later plain
// Start discards that checkpoint.

// checkpointStop stops the running instance name statefully, first giving
// it the config its daemon needs for that (StatefulConfig).
func (c *Client) checkpointStop(ctx context.Context, name string) error {
	need, err := c.StatefulConfig(ctx)
	if err != nil {
		return fmt.Errorf("stateful config: %w", err)
	}
	if len(need) > 0 {
		inst, etag, err := c.getInstance(ctx, name)
		if err != nil {
			return err
		}
		if !hasConfig(inst.Config, need) {
			put := inst.Writable()
			put.Config = maps.Clone(put.Config)
			maps.Copy(put.Config, need)
			if err := run(ctx, func() (incus.Operation, error) { return c.srv.UpdateInstance(name, put, etag) }); err != nil {
				return fmt.Errorf("set %v: %w", need, err)
			}
		}
	}
	return c.changeState(ctx, name, api.InstanceStatePut{Action: "stop", Stateful: true, Timeout: -1})
}

// restoreStart starts a statefully stopped instance from its checkpoint.
func (c *Client) restoreStart(ctx context.Context, name string) error {
	return c.changeState(ctx, name, api.InstanceStatePut{Action: "start", Stateful: true, Timeout: -1})
}

// hasConfig reports whether cfg holds every key of need with its value.
func hasConfig(cfg, need map[string]string) bool {
	for k, v := range need {
		if cfg[k] != v {
			return false
		}
	}
	return true
}
