package lxd

import (
	"context"
	"errors"
	"fmt"

	incus "github.com/lxc/incus/v6/client"
	"github.com/lxc/incus/v6/shared/api"
)

// ErrTargetRunning means a refresh's target instance runs: a refresh
// writes into the target's file system, which must not be in use.
var ErrTargetRunning = errors.New("target instance is running")

// ErrSourceRunningVM means a refresh's source is a running virtual
// machine: a VM's disk copies consistently only when it is stopped (or
// live, which a refresh does not do), and a refresh never stops its source.
var ErrSourceRunningVM = errors.New("source is a running virtual machine")

// RefreshOptions tunes Refresh.
type RefreshOptions struct {
	TargetName string            // name on the target; default: the source's name
	Config     map[string]string // config overrides for a target that does not exist yet; an empty value removes the key
	// Like names an instance on the target whose config (without volatile
	// keys), devices and profiles a target that does not exist yet gets
	// instead of the source's (then Config applies on top): a staging copy
	// of a standby container is made like the container, so nothing of the
	// primary's network or disks has to exist on the standby VM.
	Like      string
	Bandwidth int64    // as CopyOptions.Bandwidth
	Limiter   *Limiter // as CopyOptions.Limiter
	// Owner is RefreshStaging's owner mark of the staging copy
	// (StagingOwnerKey; empty: none).
	Owner string
}

// RefreshResult says what a refresh did.
type RefreshResult struct {
	// Created: the target did not exist, so everything was copied (and
	// the target got the source's config with the overrides).
	Created bool
	// SentBytes is what a capped (relayed) refresh forwarded on its data
	// sockets; -1 when the daemons copied directly (not counted).
	SentBytes int64
}

// RefreshStaging brings dst's instance staging up to date with this
// daemon's instance name, for a Swap with dst's instance live: first from
// live within dst (a local refresh, or a local copy when staging does not
// exist yet; nothing crosses the link), so that staging starts from what
// live holds rather than from the older copy an earlier Swap put aside;
// then from name, so that only what changed since live's copy travels,
// through opts' cap. opts.TargetName is staging; opts.Like is live. The
// staging copy carries the marks StagingOfKey (= live) and
// StagingOwnerKey (= opts.Owner), which DeleteStaging checks.
func (c *Client) RefreshStaging(ctx context.Context, dst *Client, name, live, staging string, opts RefreshOptions) (RefreshResult, error) {
	if _, err := dst.Refresh(ctx, dst, live, RefreshOptions{TargetName: staging}); err != nil {
		return RefreshResult{SentBytes: -1}, fmt.Errorf("catch the staging copy up with %q: %w", live, err)
	}
	if err := dst.markStaging(ctx, staging, live, opts.Owner); err != nil {
		return RefreshResult{SentBytes: -1}, busy(fmt.Errorf("refresh staging copy %q on %q: %w", staging, dst.name, err))
	}
	opts.TargetName, opts.Like = staging, live
	return c.Refresh(ctx, dst, name, opts)
}

// Refresh brings the instance's copy on dst up to date with it, an
// incremental copy (`incus copy --refresh`): when the target exists, only
// what changed since the copy was made moves, and the target keeps its own
// config; when it does not, it is a full copy. Unlike Copy it never stops
// the source, nor freezes it: a running container is copied as it runs
// (stateless, a file-system copy that may catch a file mid-write, like
// `incus copy --refresh --stateless --allow-inconsistent`); a running VM
// gives ErrSourceRunningVM. The target must be stopped (ErrTargetRunning).
// Snapshots are not copied. A failure deletes a target that this call
// created; an existing target may be left half-refreshed (refresh into a
// staging instance that nothing starts).
func (c *Client) Refresh(ctx context.Context, dst *Client, name string, opts RefreshOptions) (RefreshResult, error) {
	target := opts.TargetName
	if target == "" {
		target = name
	}
	res, err := c.refresh(ctx, dst, name, target, opts)
	if err != nil {
		return res, busy(fmt.Errorf("refresh instance %q on %q into %q on %q: %w", name, c.name, target, dst.name, err))
	}
	return res, nil
}

func (c *Client) refresh(ctx context.Context, dst *Client, name, target string, opts RefreshOptions) (RefreshResult, error) {
	res := RefreshResult{SentBytes: -1}
	inst, _, err := c.getInstance(ctx, name)
	if err != nil {
		return res, err
	}
	if inst.Type == string(api.InstanceTypeVM) && inst.StatusCode != api.Stopped {
		return res, ErrSourceRunningVM
	}
	switch cur, _, err := dst.getInstance(ctx, target); {
	case errors.Is(err, ErrNotFound):
		res.Created = true
	case err != nil:
		return res, fmt.Errorf("look up target: %w", err)
	case cur.StatusCode != api.Stopped:
		return res, fmt.Errorf("target is %s: %w", cur.Status, ErrTargetRunning)
	}
	lim, err := capped(opts.Limiter, opts.Bandwidth)
	if err != nil {
		return res, err
	}
	if dst == c {
		lim = nil // within one daemon: a local copy, nothing crosses the link
	}
	r := newReverter(ctx, c.log)
	defer r.fail()
	if res.Created && opts.Like != "" {
		like, _, err := dst.getInstance(ctx, opts.Like)
		if err != nil {
			return res, fmt.Errorf("read %q to make the copy like it: %w", opts.Like, err)
		}
		inst.Config, inst.Devices, inst.Profiles = like.Config, cloneDevices(like.Devices), like.Profiles
	}
	inst.Config = copyConfig(inst.Config, opts.Config)
	// AllowInconsistent: the daemons otherwise freeze a running source for
	// the copy (the dir driver's RunningCopyFreeze), and a frozen primary
	// is down to its probes: a sync would fail its own service over. The
	// copy is then of a live file system, as a paths sync reads one.
	args := &incus.InstanceCopyArgs{Name: target, InstanceOnly: true, Refresh: !res.Created, AllowInconsistent: true}
	rop, err := call(ctx, func() (incus.RemoteOperation, error) { return dst.srv.copyFrom(c.srv, *inst, args, lim) })
	if res.Created {
		r.add("delete partial copy", func(ctx context.Context) error { return dst.deleteIfPresent(ctx, target) })
	}
	if err != nil {
		return res, err
	}
	if err := waitRemote(ctx, rop); err != nil {
		return res, err
	}
	if ro, ok := rop.(*relayOp); ok {
		res.SentBytes = ro.sentBytes()
	}
	r.success()
	return res, nil
}
