package inventory

import (
	"time"

	"gopkg.in/yaml.v3"

	"github.com/understudy/understudy/internal/yamlpos"
)

// The overload trigger and the move hooks: migration.overload, a standby's
// own overload, services[].pinned, drain and undrain (README.md, "Moves
// under load").

// More overload defaults (they match package spares's).
const (
	DefaultOverloadTrigger    = TriggerStealAndLoad
	DefaultOverloadCPU        = 80.0
	DefaultOverloadMemory     = 90.0
	DefaultOverloadHysteresis = 0.1
	DefaultOverloadCoolDown   = 5 * time.Minute
	DefaultTargetMaxSteal     = 10.0
)

func (d *decoder) overload(n *yaml.Node, path string, x *Overload) {
	d.mapping(n, path, []field{
		{"enabled", d.Boolean(&x.Enabled)},
		{"trigger", d.Str(&x.Trigger)},
		{"steal", d.Number(&x.Steal)},
		{"load", d.Number(&x.Load)},
		{"cpu", d.Number(&x.CPU)},
		{"memory", d.Number(&x.Memory)},
		{"hysteresis", d.Number(&x.Hysteresis)},
		{"window", d.Duration(&x.Window)},
		{"cool-down", d.Duration(&x.CoolDown)},
	})
}

func (d *decoder) hook(n *yaml.Node, path string) *Hook {
	h := &Hook{}
	d.mapping(n, path, []field{
		{"url", d.Str(&h.URL)},
		{"command", d.Strings(&h.Command)},
	})
	return h
}

// overloadDefaults fills migration.overload's unwritten keys with the
// defaults, then each standby's own overload's with migration.overload's.
func (d *decoder) overloadDefaults(inv *Inventory) {
	o := &inv.Migration.Overload
	if !d.Has("migration.overload.enabled") {
		o.Enabled = true
	}
	setStr(&o.Trigger, DefaultOverloadTrigger)
	d.defFloat("migration.overload.steal", &o.Steal, DefaultOverloadSteal)
	d.defFloat("migration.overload.load", &o.Load, DefaultOverloadLoad)
	d.defFloat("migration.overload.cpu", &o.CPU, DefaultOverloadCPU)
	d.defFloat("migration.overload.memory", &o.Memory, DefaultOverloadMemory)
	d.defFloat("migration.overload.hysteresis", &o.Hysteresis, DefaultOverloadHysteresis)
	d.defDur("migration.overload.window", &o.Window, DefaultOverloadWindow)
	d.defDur("migration.overload.cool-down", &o.CoolDown, DefaultOverloadCoolDown)
	d.defFloat("migration.target-max-steal", &inv.Migration.TargetMaxSteal, DefaultTargetMaxSteal)
	for i := range inv.Standby {
		x := inv.Standby[i].Overload
		if x == nil {
			continue
		}
		p := yamlpos.Join(yamlpos.Index("standby", i), "overload")
		if !d.Has(yamlpos.Join(p, "enabled")) {
			x.Enabled = o.Enabled
		}
		setStr(&x.Trigger, o.Trigger)
		d.defFloat(yamlpos.Join(p, "steal"), &x.Steal, o.Steal)
		d.defFloat(yamlpos.Join(p, "load"), &x.Load, o.Load)
		d.defFloat(yamlpos.Join(p, "cpu"), &x.CPU, o.CPU)
		d.defFloat(yamlpos.Join(p, "memory"), &x.Memory, o.Memory)
		d.defFloat(yamlpos.Join(p, "hysteresis"), &x.Hysteresis, o.Hysteresis)
		d.defDur(yamlpos.Join(p, "window"), &x.Window, o.Window)
		d.defDur(yamlpos.Join(p, "cool-down"), &x.CoolDown, o.CoolDown)
	}
}

// OverloadOf returns the overload trigger of the standby VM named name:
// its own, or migration.overload.
func (inv *Inventory) OverloadOf(name string) Overload {
	for _, sb := range inv.Standby {
		if sb.Name == name && sb.Overload != nil {
			return *sb.Overload
		}
	}
	return inv.Migration.Overload
}

// checkOverload checks one overload trigger at path.
func (d *decoder) checkOverload(path string, o Overload) {
	d.oneOf(yamlpos.Join(path, "trigger"), "overload trigger", o.Trigger, TriggerStealAndLoad, TriggerLoad, TriggerMemory)
	if o.Steal <= 0 || o.Steal > 100 {
		d.ErrPath(yamlpos.Join(path, "steal"), "must be above 0 and at most 100 (percent), got %g", o.Steal)
	}
	if o.Load <= 0 || o.Load > 1000 {
		d.ErrPath(yamlpos.Join(path, "load"), "must be above 0 and at most 1000 (load per CPU), got %g", o.Load)
	}
	if o.CPU <= 0 || o.CPU > 100 {
		d.ErrPath(yamlpos.Join(path, "cpu"), "must be above 0 and at most 100 (percent of the VM's CPUs), got %g", o.CPU)
	}
	if o.Memory <= 0 || o.Memory > 100 {
		d.ErrPath(yamlpos.Join(path, "memory"), "must be above 0 and at most 100 (percent of the VM's memory), got %g", o.Memory)
	}
	if o.Hysteresis <= 0 || o.Hysteresis >= 1 {
		d.ErrPath(yamlpos.Join(path, "hysteresis"), "must be above 0 and below 1 (a fraction of the threshold), got %g", o.Hysteresis)
	}
	d.positive(yamlpos.Join(path, "window"), o.Window)
	if o.CoolDown < 0 {
		d.ErrPath(yamlpos.Join(path, "cool-down"), "must not be negative, got %s", o.CoolDown)
	}
}

// checkMoveHooks checks the standbys' own overload triggers and the
// services' drain and undrain hooks.
func (d *decoder) checkMoveHooks(inv *Inventory) {
	for i, sb := range inv.Standby {
		if sb.Overload != nil {
			d.checkOverload(yamlpos.Join(yamlpos.Index("standby", i), "overload"), *sb.Overload)
		}
	}
	for i, s := range inv.Services {
		sp := yamlpos.Index("services", i)
		for _, h := range []struct {
			key  string
			hook *Hook
		}{{"drain", s.Drain}, {"undrain", s.Undrain}} {
			if h.hook == nil {
				continue
			}
			p := yamlpos.Join(sp, h.key)
			switch {
			case h.hook.URL == "" && len(h.hook.Command) == 0:
				d.ErrPath(p, "set url or command")
			case h.hook.URL != "" && len(h.hook.Command) > 0:
				d.ErrPath(p, "set url or command, not both")
			case h.hook.URL != "":
				d.url(yamlpos.Join(p, "url"), h.hook.URL, "http", "https")
			}
		}
	}
}
