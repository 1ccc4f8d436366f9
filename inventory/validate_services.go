package inventory

import (
	"fmt"
	"strings"

	"github.com/understudy/understudy/internal/yamlpos"
)

func (d *decoder) checkServices(inv *Inventory) {
	names, fqdns, ports := d.unique("service name"), d.unique("fqdn"), d.unique("port on VM")
	for i := range inv.Services {
		s := &inv.Services[i]
		p := yamlpos.Index("services", i)
		if d.name(yamlpos.Join(p, "name"), s.Name) {
			names.add(yamlpos.Join(p, "name"), s.Name)
		}
		if d.dnsName(yamlpos.Join(p, "fqdn"), s.FQDN) {
			fqdns.add(yamlpos.Join(p, "fqdn"), s.FQDN)
			if z := inv.DNS.Zone; z != "" && !d.Silenced("dns.zone") && s.FQDN != z && !strings.HasSuffix(s.FQDN, "."+z) {
				d.ErrPath(yamlpos.Join(p, "fqdn"), "%q is outside zone %q", s.FQDN, z)
			}
		}
		if d.required(yamlpos.Join(p, "vm"), s.VM) && inv.VM(s.VM) == nil {
			d.ErrPath(yamlpos.Join(p, "vm"), "unknown VM %q", s.VM)
		}
		if !d.Has(yamlpos.Join(p, "port")) {
			d.ErrPath(yamlpos.Join(p, "port"), "required")
		} else {
			d.intRange(yamlpos.Join(p, "port"), s.Port, 1, 65535)
			if s.VM != "" {
				ports.add(yamlpos.Join(p, "port"), fmt.Sprintf("%s:%d", s.VM, s.Port))
			}
		}
		d.checkCheck(yamlpos.Join(p, "check"), s.Check)
		if d.required(yamlpos.Join(p, "standby"), s.Standby) && inv.StandbyVM(s.Standby) == nil {
			d.ErrPath(yamlpos.Join(p, "standby"), "unknown standby VM %q", s.Standby)
		}
		d.oneOf(yamlpos.Join(p, "mode"), "mode", string(s.Mode), string(ModeWarm), string(ModeCold), string(ModeRestore))
		d.oneOf(yamlpos.Join(p, "failback"), "failback", string(s.Failback), string(FailbackManual), string(FailbackAuto))
		d.intRange(yamlpos.Join(p, "priority"), s.Priority, 1, 1000)
		d.oneOf(yamlpos.Join(p, "confirm"), "confirm", s.Confirm, ConfirmAgent, ConfirmNone)
		d.checkFence(p, s)
		if d.Has(yamlpos.Join(p, "probe-timeout")) { // else it is proxy.probe-timeout, checked there
			d.positive(yamlpos.Join(p, "probe-timeout"), s.ProbeTimeout)
		}
		if d.Has(yamlpos.Join(p, "hold")) {
			d.positive(yamlpos.Join(p, "hold"), s.Hold)
		}
		d.checkReroute(yamlpos.Join(p, "proxy-reroute"), *s)
		d.checkContainer(yamlpos.Join(p, "container"), s.Container)
		d.checkSync(p, s, inv)
	}
}

func (d *decoder) checkCheck(path string, c Check) {
	switch {
	case c.HTTP == nil && c.TCP == nil:
		d.ErrPath(path, "required: http or tcp")
	case c.HTTP != nil && c.TCP != nil:
		d.ErrPath(path, "set http or tcp, not both")
	case c.HTTP != nil:
		h := c.HTTP
		if !strings.HasPrefix(h.Path, "/") {
			d.ErrPath(yamlpos.Join(path, "http.path"), "%q must start with /", h.Path)
		}
		d.intRange(yamlpos.Join(path, "http.expect-status"), h.ExpectStatus, 100, 599)
		d.oneOf(yamlpos.Join(path, "http.scheme"), "scheme", h.Scheme, "http", "https")
	}
}

func (d *decoder) checkFence(p string, s *Service) {
	if !d.oneOf(yamlpos.Join(p, "fence"), "fence", s.Fence, FenceHypervisor, FenceCommand, FenceNone) {
		return
	}
	switch {
	case s.Fence == FenceCommand && len(s.FenceCommand) == 0:
		d.ErrPath(yamlpos.Join(p, "fence-command"), "required with fence: command")
	case s.Fence != FenceCommand && d.Has(yamlpos.Join(p, "fence-command")):
		d.ErrPath(yamlpos.Join(p, "fence-command"), "only used with fence: command")
	}
	switch {
	case s.Fence != FenceHypervisor && d.Has(yamlpos.Join(p, "fence-method")):
		d.ErrPath(yamlpos.Join(p, "fence-method"), "only used with fence: hypervisor")
	case s.Fence == FenceHypervisor:
		d.oneOf(yamlpos.Join(p, "fence-method"), "fence-method", s.FenceMethod, FenceFreeze, FenceStop)
	}
	switch {
	case s.Fence == FenceNone && s.FenceRequired && d.Has(yamlpos.Join(p, "fence-required")):
		d.ErrPath(yamlpos.Join(p, "fence-required"), "needs fence: hypervisor or command, not none")
	case s.Fence == FenceNone && s.FenceRequired:
		d.ErrPath(yamlpos.Join(p, "fence"), "a stateful service (data-disk or stateful: true) fails over fenced: use fence: hypervisor or command, or write fence-required: false to accept two running copies")
	}
}

func (d *decoder) checkContainer(path string, c Container) {
	if !d.Has(path) {
		d.ErrPath(path, "required: image and limits")
		return
	}
	d.required(yamlpos.Join(path, "image"), c.Image)
	if c.Limits.CPU < 0 {
		d.ErrPath(yamlpos.Join(path, "limits.cpu"), "must not be negative, got %d", c.Limits.CPU)
	}
	if c.Limits.Memory <= 0 {
		d.ErrPath(yamlpos.Join(path, "limits.memory"), "required: the standby VM's capacity is checked against it")
	}
	for k, v := range c.Config {
		switch {
		case k == "limits.cpu" || k == "limits.memory":
			d.ErrPath(yamlpos.Join(path, "config."+k), "set it with container.limits, not config")
		case !ConfigKeyAllowed(k, v):
			d.ErrPath(yamlpos.Join(path, "config."+k), "%q is not an allowed instance config key (allowed: %s)", k+"="+v, AllowedConfigKeys())
		}
	}
	if c.DataDisk != nil {
		d.absPath(yamlpos.Join(path, "data-disk.source"), c.DataDisk.Source) // a host path: the agent mounts it as a disk device
		d.absPath(yamlpos.Join(path, "data-disk.path"), c.DataDisk.Path)
	}
}

// checkCapacity checks that every standby VM can hold its warm services at
// once, since their containers always run: as many containers, and the sum
// of their memory limits. Cold and restore services need room only when
// they fail over; whether they get it is decided then, by priority
// (monitor/capacity/admit), so an inventory may assign more of them than
// fit, and `understudy plan` shows which a failure would leave unprotected.
func (d *decoder) checkCapacity(inv *Inventory) {
	for i, sb := range inv.Standby {
		if sb.Name == "" {
			continue
		}
		var n int
		var mem int64
		for _, s := range inv.Services {
			if s.Standby == sb.Name && s.Mode == ModeWarm {
				n++
				mem += s.Container.Limits.Memory
			}
		}
		p := yamlpos.Index("standby", i)
		if sb.Capacity.Containers > 0 && n > sb.Capacity.Containers {
			d.ErrPath(yamlpos.Join(p, "capacity.containers"), "%d warm services are assigned to standby %q, it holds %d (warm containers always run)", n, sb.Name, sb.Capacity.Containers)
		}
		if sb.Capacity.Memory > 0 && mem > sb.Capacity.Memory {
			d.ErrPath(yamlpos.Join(p, "capacity.memory"), "the warm services assigned to standby %q need %s of memory, it has %s (warm containers always run)", sb.Name, yamlpos.FormatSize(mem), yamlpos.FormatSize(sb.Capacity.Memory))
		}
	}
}

// checkReroute checks proxy-reroute: off or warm, and warm only for a
// stateless service whose standby container runs (mode warm): a proxy
// that reroutes while the primary still runs makes two copies serve at
// once, which a stateful service must never have.
func (d *decoder) checkReroute(path string, s Service) {
	if s.ProxyReroute == "" {
		return
	}
	if !d.oneOf(path, "proxy-reroute", string(s.ProxyReroute), string(RerouteOff), string(RerouteWarm)) ||
		s.ProxyReroute != RerouteWarm {
		return
	}
	switch {
	case s.Mode != ModeWarm:
		d.ErrPath(path, "proxy-reroute: warm needs mode warm, got mode %q", s.Mode)
	case s.IsStateful():
		d.ErrPath(path, "proxy-reroute: warm is refused for a stateful service (stateful: true or a data disk): "+
			"the proxy would send requests to the standby while the primary still runs")
	}
}
