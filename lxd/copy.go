package lxd

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	incus "github.com/lxc/incus/v6/client"
	"github.com/lxc/incus/v6/shared/api"
)

// CopyOptions tunes Copy.
type CopyOptions struct {
	TargetName  string            // name on the target; default: the source's name
	Move        bool              // delete the source after a successful copy
	Live        bool              // copy the running state (CRIU: livecopy.go); it arrives running; needs SetStateful(true) on both clients
	Start       bool              // start the copy on the target
	Config      map[string]string // config overrides for the copy; an empty value removes the key
	StopTimeout time.Duration     // graceful stop of a running source before a cold copy; 0 forces
	Mode        string            // transfer mode: "pull" (default: the target pulls from the source) or "relay" (through this process)
	// Bandwidth caps the copy's data at this many bytes per second; 0 does
	// not. A capped copy always relays through this process, whose token
	// bucket paces the data websockets (relay.go); Mode is then ignored.
	Bandwidth int64
	// Limiter, when set, is the cap shared with other streams (it replaces
	// Bandwidth): the copy relays while its rate caps.
	Limiter *Limiter
}

// Copy copies the instance from this daemon to dst (they may be the same
// daemon when TargetName differs). Unless Live, it is stop-copy-start: a
// running source is stopped, copied, and started again afterwards unless
// Move. Snapshots are not copied. The target's config is the source's
// without volatile keys, with opts.Config applied. A failure on the way
// deletes the partial copy and restarts the source. A target that already
// exists gives ErrAlreadyExists.
func (c *Client) Copy(ctx context.Context, dst *Client, name string, opts CopyOptions) error {
	target := opts.TargetName
	if target == "" {
		target = name
	}
	if err := c.copy(ctx, dst, name, target, opts); err != nil {
		verb := "copy"
		if opts.Move {
			verb = "move"
		}
		return busy(fmt.Errorf("%s instance %q on %q to %q on %q: %w", verb, name, c.name, target, dst.name, err))
	}
	return nil
}

func (c *Client) copy(ctx context.Context, dst *Client, name, target string, opts CopyOptions) error {
	if opts.Live && !(c.stateful.Load() && dst.stateful.Load()) {
		return ErrStatefulUnsupported
	}
	mode := opts.Mode
	if mode == "" {
		mode = "pull"
	}
	if mode != "pull" && mode != "relay" {
		return fmt.Errorf("unknown transfer mode %q (want pull or relay)", mode)
	}
	inst, _, err := c.getInstance(ctx, name)
	if err != nil {
		return err
	}
	switch _, _, err := dst.getInstance(ctx, target); {
	case err == nil:
		return fmt.Errorf("target: %w", ErrAlreadyExists)
	case !errors.Is(err, ErrNotFound):
		return fmt.Errorf("look up target: %w", err)
	}

	r := newReverter(ctx, c.log)
	defer r.fail()
	phases := newPhaseLog()
	defer func() { c.log.Debug("copy phases", "instance", name, "target", dst.name, "phases", phases) }()
	wasRunning := inst.StatusCode == api.Running || inst.StatusCode == api.Frozen
	if wasRunning && !opts.Live {
		if err := c.stop(ctx, name, opts.StopTimeout); err != nil {
			return fmt.Errorf("stop source: %w", err)
		}
		phases.mark("stop")
		r.add("restart source", func(ctx context.Context) error { return c.Start(ctx, name) })
		inst.StatusCode, inst.Status = api.Stopped, api.Stopped.String()
	}
	live := wasRunning && opts.Live
	if live { // livecopy.go: stateful stop, copy with the state, stateful start
		if err := c.checkpointStop(ctx, name); err != nil {
			return fmt.Errorf("stateful stop of the source: %w", err)
		}
		phases.mark("stateful-stop")
		r.add("restore source", func(ctx context.Context) error { return c.restoreStart(ctx, name) })
		// Again: the stop changed its status and, on Incus, its config.
		if inst, _, err = c.getInstance(ctx, name); err != nil {
			return err
		}
	}

	inst.Config = copyConfig(inst.Config, opts.Config)
	args := &incus.InstanceCopyArgs{Name: target, InstanceOnly: true, Mode: mode}
	lim, err := capped(opts.Limiter, opts.Bandwidth)
	if err != nil {
		return err
	}
	rop, err := call(ctx, func() (incus.RemoteOperation, error) {
		return dst.srv.copyFrom(c.srv, *inst, args, lim)
	})
	// From the first request on, a partial copy may exist on the target.
	r.add("delete partial copy", func(ctx context.Context) error { return dst.deleteIfPresent(ctx, target) })
	if err != nil {
		return err
	}
	if err := waitRemote(ctx, rop); err != nil {
		return err
	}
	phases.mark("copy")
	if ro, ok := rop.(*relayOp); ok {
		c.log.Debug("copy relayed", "instance", name, "target", dst.name, "bytes", ro.sentBytes(), "bandwidth", lim.Rate())
	}

	switch {
	case live:
		if err := dst.restoreStart(ctx, target); err != nil {
			return fmt.Errorf("stateful start of the copy: %w", err)
		}
		phases.mark("restore-target")
	case opts.Start:
		if err := dst.Start(ctx, target); err != nil {
			return err
		}
		phases.mark("start-target")
	}
	if opts.Move {
		if err := c.deleteIfPresent(ctx, name); err != nil {
			return fmt.Errorf("delete source: %w", err)
		}
		phases.mark("delete-source")
	} else if wasRunning && !opts.Live {
		if err := c.Start(ctx, name); err != nil {
			return err
		}
		phases.mark("restart-source")
	}
	r.success()
	return nil
}

// copyConfig returns the config for a copy on another daemon: the source's,
// without volatile keys other than volatile.base_image (as `incus copy`
// does), with the overrides applied.
func copyConfig(src, overrides map[string]string) map[string]string {
	out := make(map[string]string, len(src)+len(overrides))
	for k, v := range src {
		if strings.HasPrefix(k, "volatile.") && k != "volatile.base_image" {
			continue
		}
		out[k] = v
	}
	maps.Copy(out, overrides)
	for k, v := range overrides {
		if v == "" {
			delete(out, k)
		}
	}
	return out
}

// phaseLog records how long each step of a multi-step change took, for
// debug logs.
type phaseLog struct {
	last  time.Time
	parts []string
}

func newPhaseLog() *phaseLog { return &phaseLog{last: time.Now()} }

func (p *phaseLog) mark(phase string) {
	now := time.Now()
	p.parts = append(p.parts, phase+"="+now.Sub(p.last).Round(time.Millisecond).String())
	p.last = now
}

func (p *phaseLog) String() string { return strings.Join(p.parts, " ") }
