package inventory

import (
	"fmt"
	"strings"
)

func (d *decoder) checkServices(inv *Inventory) {
	names, fqdns, ports := d.unique("service name"), d.unique("fqdn"), d.unique("port on VM")
	for i := range inv.Services {
		s := &inv.Services[i]
		p := index("services", i)
		if d.name(join(p, "name"), s.Name) {
			names.add(join(p, "name"), s.Name)
		}
		if d.dnsName(join(p, "fqdn"), s.FQDN) {
			fqdns.add(join(p, "fqdn"), s.FQDN)
			if z := inv.DNS.Zone; z != "" && !d.silenced("dns.zone") && s.FQDN != z && !strings.HasSuffix(s.FQDN, "."+z) {
				d.errPath(join(p, "fqdn"), "%q is outside zone %q", s.FQDN, z)
			}
		}
		if d.required(join(p, "vm"), s.VM) && inv.VM(s.VM) == nil {
			d.errPath(join(p, "vm"), "unknown VM %q", s.VM)
		}
		if !d.has(join(p, "port")) {
			d.errPath(join(p, "port"), "required")
		} else {
			d.intRange(join(p, "port"), s.Port, 1, 65535)
			if s.VM != "" {
				ports.add(join(p, "port"), fmt.Sprintf("%s:%d", s.VM, s.Port))
			}
		}
		d.checkCheck(join(p, "check"), s.Check)
		if d.required(join(p, "standby"), s.Standby) && inv.StandbyVM(s.Standby) == nil {
			d.errPath(join(p, "standby"), "unknown standby VM %q", s.Standby)
		}
		d.oneOf(join(p, "mode"), "mode", string(s.Mode), string(ModeWarm), string(ModeCold), string(ModeRestore))
		d.oneOf(join(p, "failback"), "failback", string(s.Failback), string(FailbackManual), string(FailbackAuto))
		d.intRange(join(p, "priority"), s.Priority, 1, 1000)
		d.oneOf(join(p, "confirm"), "confirm", s.Confirm, ConfirmAgent, ConfirmNone)
		d.checkFence(p, s)
		if d.has(join(p, "probe-timeout")) { // else it is proxy.probe-timeout, checked there
			d.positive(join(p, "probe-timeout"), s.ProbeTimeout)
		}
		if d.has(join(p, "hold")) {
			d.positive(join(p, "hold"), s.Hold)
		}
		d.checkContainer(join(p, "container"), s.Container)
	}
}

func (d *decoder) checkCheck(path string, c Check) {
	switch {
	case c.HTTP == nil && c.TCP == nil:
		d.errPath(path, "required: http or tcp")
	case c.HTTP != nil && c.TCP != nil:
		d.errPath(path, "set http or tcp, not both")
	case c.HTTP != nil:
		h := c.HTTP
		if !strings.HasPrefix(h.Path, "/") {
			d.errPath(join(path, "http.path"), "%q must start with /", h.Path)
		}
		d.intRange(join(path, "http.expect-status"), h.ExpectStatus, 100, 599)
		d.oneOf(join(path, "http.scheme"), "scheme", h.Scheme, "http", "https")
	}
}

func (d *decoder) checkFence(p string, s *Service) {
	if !d.oneOf(join(p, "fence"), "fence", s.Fence, FenceHypervisor, FenceCommand, FenceNone) {
		return
	}
	switch {
	case s.Fence == FenceCommand && len(s.FenceCommand) == 0:
		d.errPath(join(p, "fence-command"), "required with fence: command")
	case s.Fence != FenceCommand && d.has(join(p, "fence-command")):
		d.errPath(join(p, "fence-command"), "only used with fence: command")
	}
	switch {
	case s.Fence == FenceNone && s.FenceRequired && d.has(join(p, "fence-required")):
		d.errPath(join(p, "fence-required"), "needs fence: hypervisor or command, not none")
	case s.Fence == FenceNone && s.FenceRequired:
		d.errPath(join(p, "fence"), "a stateful service (data-disk or stateful: true) fails over fenced: use fence: hypervisor or command, or write fence-required: false to accept two running copies")
	}
}

func (d *decoder) checkContainer(path string, c Container) {
	if !d.has(path) {
		d.errPath(path, "required: image and limits")
		return
	}
	d.required(join(path, "image"), c.Image)
	if c.Limits.CPU < 0 {
		d.errPath(join(path, "limits.cpu"), "must not be negative, got %d", c.Limits.CPU)
	}
	if c.Limits.Memory <= 0 {
		d.errPath(join(path, "limits.memory"), "required: the standby VM's capacity is checked against it")
	}
	for k, v := range c.Config {
		switch {
		case k == "limits.cpu" || k == "limits.memory":
			d.errPath(join(path, "config."+k), "set it with container.limits, not config")
		case !ConfigKeyAllowed(k, v):
			d.errPath(join(path, "config."+k), "%q is not an allowed instance config key (allowed: %s)", k+"="+v, AllowedConfigKeys())
		}
	}
	if c.DataDisk != nil {
		d.absPath(join(path, "data-disk.source"), c.DataDisk.Source) // a host path: the agent mounts it as a disk device
		d.absPath(join(path, "data-disk.path"), c.DataDisk.Path)
	}
}

// checkCapacity checks that every standby VM can hold all the services
// assigned to it at once: as many containers, and the sum of their memory limits.
func (d *decoder) checkCapacity(inv *Inventory) {
	for i, sb := range inv.Standby {
		if sb.Name == "" {
			continue
		}
		var n int
		var mem int64
		for _, s := range inv.Services {
			if s.Standby == sb.Name {
				n++
				mem += s.Container.Limits.Memory
			}
		}
		p := index("standby", i)
		if sb.Capacity.Containers > 0 && n > sb.Capacity.Containers {
			d.errPath(join(p, "capacity.containers"), "%d services are assigned to standby %q, it holds %d", n, sb.Name, sb.Capacity.Containers)
		}
		if sb.Capacity.Memory > 0 && mem > sb.Capacity.Memory {
			d.errPath(join(p, "capacity.memory"), "the services assigned to standby %q need %s of memory, it has %s", sb.Name, formatSize(mem), formatSize(sb.Capacity.Memory))
		}
	}
}
