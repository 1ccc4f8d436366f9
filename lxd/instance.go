package lxd

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	incus "github.com/lxc/incus/v6/client"
	"github.com/lxc/incus/v6/shared/api"

	"github.com/understudy/understudy/inventory"
)

// InstanceSpec describes the container Ensure keeps in place.
type InstanceSpec struct {
	Name     string
	Image    string                       // local image alias
	Config   map[string]string            // instance config keys, e.g. environment.IPADDR
	Devices  map[string]map[string]string // local devices, e.g. a shared data disk
	CPU      int                          // limits.cpu when > 0
	Memory   int64                        // limits.memory in bytes when > 0
	Profiles []string                     // nil: the daemon's default profile
}

// config returns the instance config the spec asks for, limits included.
func (s InstanceSpec) config() map[string]string {
	cfg := maps.Clone(s.Config)
	if cfg == nil {
		cfg = map[string]string{}
	}
	if s.CPU > 0 {
		cfg["limits.cpu"] = strconv.Itoa(s.CPU)
	}
	if s.Memory > 0 {
		cfg["limits.memory"] = memoryLimit(s.Memory)
	}
	return cfg
}

// memoryLimit formats bytes for limits.memory: whole MiB as "NMiB",
// anything else as "NB" (both accepted by Incus and LXD 5.0).
func memoryLimit(b int64) string {
	const mib = 1 << 20
	if b%mib == 0 {
		return strconv.FormatInt(b/mib, 10) + "MiB"
	}
	return strconv.FormatInt(b, 10) + "B"
}

// Ensure makes the instance exist as spec describes. A missing instance is
// created (stopped) from the local image alias; an existing one gets the
// config keys, limits, devices and profiles of the spec that differ. Keys
// and devices the spec does not name are left alone. It reports whether it
// created the instance. A creation that fails half-way is deleted again.
// A missing instance whose Swap is under way (its aside instance, the
// name + inventory.SyncSwapSuffix, exists) is not created: ErrSwapping.
func (c *Client) Ensure(ctx context.Context, spec InstanceSpec) (created bool, err error) {
	if spec.Name == "" {
		return false, fmt.Errorf("ensure instance on %q: empty name", c.name)
	}
	inst, etag, err := c.getInstance(ctx, spec.Name)
	switch {
	case errors.Is(err, ErrNotFound):
		if err := c.notSwapping(ctx, spec.Name); err != nil {
			return false, fmt.Errorf("ensure instance %q on %q: %w", spec.Name, c.name, err)
		}
		created, err := c.create(ctx, spec)
		if err != nil {
			return false, fmt.Errorf("ensure instance %q on %q: %w", spec.Name, c.name, err)
		}
		return created, nil
	case err != nil:
		return false, fmt.Errorf("ensure instance %q on %q: %w", spec.Name, c.name, err)
	}
	if err := c.reconcile(ctx, spec, inst, etag); err != nil {
		return false, fmt.Errorf("ensure instance %q on %q: %w", spec.Name, c.name, err)
	}
	return false, nil
}

// create creates the instance; against LXD 5.0 (quirks.readBackCreate) it
// then reads it back and applies whatever the daemon did not take from the
// create request. Start is never requested: Ensure's contract is a stopped
// instance (and LXD 5.0 ignores InstancesPost.Start). When the daemon refuses the create
// because someone else created the instance meanwhile, that instance is
// reconciled instead and created is false.
func (c *Client) create(ctx context.Context, spec InstanceSpec) (created bool, err error) {
	if spec.Image == "" {
		return false, errors.New("create: no image alias given")
	}
	r := newReverter(ctx, c.log)
	defer r.fail()
	req := api.InstancesPost{
		Name:   spec.Name,
		Type:   api.InstanceTypeContainer,
		Source: api.InstanceSource{Type: "image", Alias: spec.Image},
		InstancePut: api.InstancePut{
			Config:   spec.config(),
			Devices:  cloneDevices(spec.Devices),
			Profiles: spec.Profiles,
		},
	}
	op, err := send(ctx, func() (incus.Operation, error) { return c.srv.CreateInstance(req) })
	if err != nil {
		if ctx.Err() != nil {
			// Cut short in flight: the create may still happen.
			r.add("delete half-created instance", func(ctx context.Context) error { return c.deleteIfPresent(ctx, spec.Name) })
			return false, fmt.Errorf("create from image %q: %w", spec.Image, err)
		}
		if inst, etag, gerr := c.getInstance(ctx, spec.Name); gerr == nil {
			return false, c.reconcile(ctx, spec, inst, etag) // lost a race with another creator
		}
		return false, fmt.Errorf("create from image %q: %w", spec.Image, notFound(err))
	}
	// From here the instance is ours: undo deletes it.
	r.add("delete created instance", func(ctx context.Context) error { return c.deleteIfPresent(ctx, spec.Name) })
	if err := wait(ctx, op); err != nil {
		return false, fmt.Errorf("create from image %q: %w", spec.Image, notFound(err))
	}
	if !c.quirks.readBackCreate {
		r.success()
		return true, nil
	}
	inst, etag, err := c.getInstance(ctx, spec.Name)
	if err != nil {
		return false, fmt.Errorf("read back created instance: %w", err)
	}
	if err := c.reconcile(ctx, spec, inst, etag); err != nil {
		return false, err
	}
	r.success()
	return true, nil
}

// reconcile updates the instance where it differs from spec.
func (c *Client) reconcile(ctx context.Context, spec InstanceSpec, inst *api.Instance, etag string) error {
	put, changed := desired(spec, inst)
	if !changed {
		return nil
	}
	err := run(ctx, func() (incus.Operation, error) { return c.srv.UpdateInstance(spec.Name, put, etag) })
	if err != nil {
		return fmt.Errorf("update config: %w", notFound(err))
	}
	return nil
}

// DataDiskDevice is the device a service's data disk is attached as. An
// instance whose spec has none loses it on Ensure.
const DataDiskDevice = "understudy-data"

// desired returns the instance's writable part changed to match spec, and
// whether anything changed. Besides setting what spec asks for, it removes
// what an older spec (or someone else) left that no spec may ask for: config
// keys outside the inventory's allow-list (inventory.ConfigKeyAllowed, e.g.
// security.nesting=true or raw.lxc), except the daemon's own volatile.* and
// image.*, and the data disk device when spec has none.
func desired(spec InstanceSpec, inst *api.Instance) (api.InstancePut, bool) {
	put := inst.Writable()
	put.Config = maps.Clone(put.Config)
	if put.Config == nil {
		put.Config = map[string]string{}
	}
	put.Devices = cloneDevices(put.Devices)
	if put.Devices == nil {
		put.Devices = map[string]map[string]string{}
	}
	changed := false
	want := spec.config()
	for k, v := range want {
		if put.Config[k] != v {
			put.Config[k] = v
			changed = true
		}
	}
	for k, v := range put.Config {
		if _, ok := want[k]; ok || strings.HasPrefix(k, "volatile.") || strings.HasPrefix(k, "image.") || inventory.ConfigKeyAllowed(k, v) {
			continue
		}
		delete(put.Config, k)
		changed = true
	}
	if _, ok := spec.Devices[DataDiskDevice]; !ok && put.Devices[DataDiskDevice] != nil {
		delete(put.Devices, DataDiskDevice)
		changed = true
	}
	for name, dev := range spec.Devices {
		if !maps.Equal(put.Devices[name], dev) {
			put.Devices[name] = maps.Clone(dev)
			changed = true
		}
	}
	if spec.Profiles != nil && !slices.Equal(put.Profiles, spec.Profiles) {
		put.Profiles = slices.Clone(spec.Profiles)
		changed = true
	}
	return put, changed
}

func cloneDevices(d map[string]map[string]string) map[string]map[string]string {
	if d == nil {
		return nil
	}
	out := make(map[string]map[string]string, len(d))
	for k, v := range d {
		out[k] = maps.Clone(v)
	}
	return out
}

// getInstance reads an instance; a missing one gives ErrNotFound.
func (c *Client) getInstance(ctx context.Context, name string) (*api.Instance, string, error) {
	type got struct {
		inst *api.Instance
		etag string
	}
	g, err := call(ctx, func() (got, error) {
		inst, etag, err := c.srv.GetInstance(name)
		return got{inst, etag}, err
	})
	if err != nil {
		return nil, "", notFound(err)
	}
	return g.inst, g.etag, nil
}

// Delete removes the instance, stopping it first (forced). An absent
// instance is not an error.
func (c *Client) Delete(ctx context.Context, name string) error {
	if err := c.deleteIfPresent(ctx, name); err != nil {
		return busy(fmt.Errorf("delete instance %q on %q: %w", name, c.name, err))
	}
	return nil
}

func (c *Client) deleteIfPresent(ctx context.Context, name string) error {
	st, err := c.rawState(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.StatusCode != api.Stopped {
		if err := c.forceStop(ctx, name); err != nil {
			return err
		}
	}
	err = c.runOp(ctx, func() (incus.Operation, error) { return c.srv.DeleteInstance(name) })
	if isNotFound(err) {
		return nil
	}
	return err
}
