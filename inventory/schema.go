package inventory

import "gopkg.in/yaml.v3"

// This file maps YAML keys to fields: one function per type, listing its keys.

func (d *decoder) inventory(n *yaml.Node, inv *Inventory) {
	d.mapping(n, "", []field{
		{"lab", d.boolean(&inv.Lab)},
		{"dns", func(v *yaml.Node, p string) { d.dns(v, p, &inv.DNS) }},
		{"monitor", func(v *yaml.Node, p string) { d.monitor(v, p, &inv.Monitor) }},
		{"hypervisors", func(v *yaml.Node, p string) {
			d.sequence(v, p, func(_ int, v *yaml.Node, p string) {
				var h Hypervisor
				d.hypervisor(v, p, &h)
				inv.Hypervisors = append(inv.Hypervisors, h)
			})
		}},
		{"vms", func(v *yaml.Node, p string) {
			d.sequence(v, p, func(_ int, v *yaml.Node, p string) {
				var vm VM
				d.vm(v, p, &vm)
				inv.VMs = append(inv.VMs, vm)
			})
		}},
		{"standby", func(v *yaml.Node, p string) {
			d.sequence(v, p, func(_ int, v *yaml.Node, p string) {
				var s Standby
				d.standby(v, p, &s)
				inv.Standby = append(inv.Standby, s)
			})
		}},
		{"spares", func(v *yaml.Node, p string) {
			d.sequence(v, p, func(_ int, v *yaml.Node, p string) {
				var s Spare
				d.spare(v, p, &s)
				inv.Spares = append(inv.Spares, s)
			})
		}},
		{"proxy", func(v *yaml.Node, p string) { d.proxy(v, p, &inv.Proxy) }},
		{"migration", func(v *yaml.Node, p string) { d.migration(v, p, &inv.Migration) }},
		{"services", func(v *yaml.Node, p string) {
			d.sequence(v, p, func(_ int, v *yaml.Node, p string) {
				var s Service
				d.service(v, p, &s)
				inv.Services = append(inv.Services, s)
			})
		}},
	})
}

func (d *decoder) dns(n *yaml.Node, path string, x *DNS) {
	d.mapping(n, path, []field{
		{"server", d.str(&x.Server)},
		{"zone", d.str(&x.Zone)},
		{"tsig-key-file", d.str(&x.TSIGKeyFile)},
		{"ttl", d.duration(&x.TTL)},
		{"verify", d.strings(&x.Verify)},
		{"timeout", d.duration(&x.Timeout)},
	})
}

func (d *decoder) monitor(n *yaml.Node, path string, x *Monitor) {
	d.mapping(n, path, []field{
		{"listen", d.str(&x.Listen)},
		{"state-dir", d.str(&x.StateDir)},
		{"interval", d.duration(&x.Interval)},
		{"timeout", d.duration(&x.Timeout)},
		{"fails", d.integer(&x.Fails)},
		{"passes", d.integer(&x.Passes)},
		{"agent-tls", func(v *yaml.Node, p string) { d.tls(v, p, &x.AgentTLS) }},
		{"api-tls", func(v *yaml.Node, p string) { d.tls(v, p, &x.APITLS) }},
		{"api-client-tls", func(v *yaml.Node, p string) { d.tls(v, p, &x.APIClientTLS) }},
		{"api-token-file", d.str(&x.APITokenFile)},
		{"insecure-api", d.boolean(&x.InsecureAPI)},
		{"etcd", func(v *yaml.Node, p string) {
			x.Etcd = &Etcd{}
			d.mapping(v, p, []field{
				{"endpoints", d.strings(&x.Etcd.Endpoints)},
				{"tls", func(v *yaml.Node, p string) { d.tls(v, p, &x.Etcd.TLS) }},
			})
		}},
		{"flap", func(v *yaml.Node, p string) {
			d.mapping(v, p, []field{
				{"max", d.integer(&x.Flap.Max)},
				{"window", d.duration(&x.Flap.Window)},
			})
		}},
		{"alert-url", d.str(&x.AlertURL)},
	})
}

func (d *decoder) tls(n *yaml.Node, path string, x *TLSFiles) {
	d.mapping(n, path, []field{
		{"ca", d.str(&x.CA)},
		{"cert", d.str(&x.Cert)},
		{"key", d.str(&x.Key)},
	})
}

func (d *decoder) incus(n *yaml.Node, path string, x *Incus) {
	d.mapping(n, path, []field{
		{"socket", d.str(&x.Socket)},
		{"url", d.str(&x.URL)},
		{"client-cert", d.str(&x.ClientCert)},
		{"client-key", d.str(&x.ClientKey)},
		{"server-cert", d.str(&x.ServerCert)},
	})
}

func (d *decoder) capacity(n *yaml.Node, path string, x *Capacity) {
	d.mapping(n, path, []field{
		{"containers", d.integer(&x.Containers)},
		{"memory", d.size(&x.Memory)},
	})
}

func (d *decoder) hypervisor(n *yaml.Node, path string, x *Hypervisor) {
	d.mapping(n, path, []field{
		{"name", d.str(&x.Name)},
		{"address", d.str(&x.Address)},
		{"zone", d.str(&x.Zone)},
		{"incus", func(v *yaml.Node, p string) { d.incus(v, p, &x.Incus) }},
	})
}

func (d *decoder) vm(n *yaml.Node, path string, x *VM) {
	d.mapping(n, path, []field{
		{"name", d.str(&x.Name)},
		{"hypervisor", d.str(&x.Hypervisor)},
		{"instance", d.str(&x.Instance)},
		{"address", d.str(&x.Address)},
	})
}

func (d *decoder) standby(n *yaml.Node, path string, x *Standby) {
	d.mapping(n, path, []field{
		{"name", d.str(&x.Name)},
		{"agent", d.str(&x.Agent)},
		{"zone", d.str(&x.Zone)},
		{"capacity", func(v *yaml.Node, p string) { d.capacity(v, p, &x.Capacity) }},
		{"incus", func(v *yaml.Node, p string) { d.incus(v, p, &x.Incus) }},
		{"network", func(v *yaml.Node, p string) { x.Network = d.network(v, p) }},
	})
}

func (d *decoder) spare(n *yaml.Node, path string, x *Spare) {
	d.mapping(n, path, []field{
		{"name", d.str(&x.Name)},
		{"zone", d.str(&x.Zone)},
		{"agent", d.str(&x.Agent)},
		{"incus", func(v *yaml.Node, p string) { d.incus(v, p, &x.Incus) }},
		{"capacity", func(v *yaml.Node, p string) { d.capacity(v, p, &x.Capacity) }},
		{"network", func(v *yaml.Node, p string) { x.Network = d.network(v, p) }},
	})
}

func (d *decoder) network(n *yaml.Node, path string) *Network {
	x := &Network{}
	d.mapping(n, path, []field{
		{"gateway", d.str(&x.Gateway)},
		{"prefix-len", d.integer(&x.PrefixLen)},
		{"pool", d.str(&x.Pool)},
	})
	return x
}

func (d *decoder) proxy(n *yaml.Node, path string, x *Proxy) {
	d.mapping(n, path, []field{
		{"listen", d.str(&x.Listen)},
		{"monitor", d.stringOrStrings(&x.Monitors)},
		{"probe-timeout", d.duration(&x.ProbeTimeout)},
		{"hold", d.duration(&x.Hold)},
		{"queue", d.integer(&x.Queue)},
	})
}

func (d *decoder) migration(n *yaml.Node, path string, x *Migration) {
	d.mapping(n, path, []field{
		{"overload", func(v *yaml.Node, p string) {
			d.mapping(v, p, []field{
				{"enabled", d.boolean(&x.Overload.Enabled)},
				{"steal", d.number(&x.Overload.Steal)},
				{"load", d.number(&x.Overload.Load)},
				{"window", d.duration(&x.Overload.Window)},
			})
		}},
		{"bandwidth", d.bandwidth(&x.Bandwidth)},
		{"max-parallel", d.integer(&x.MaxParallel)},
		{"live", func(v *yaml.Node, p string) { d.str((*string)(&x.Live))(v, p) }},
	})
}

func (d *decoder) service(n *yaml.Node, path string, x *Service) {
	d.mapping(n, path, []field{
		{"name", d.str(&x.Name)},
		{"fqdn", d.str(&x.FQDN)},
		{"vm", d.str(&x.VM)},
		{"port", d.integer(&x.Port)},
		{"check", func(v *yaml.Node, p string) { d.check(v, p, &x.Check) }},
		{"standby", d.str(&x.Standby)},
		{"mode", func(v *yaml.Node, p string) { d.str((*string)(&x.Mode))(v, p) }},
		{"role", d.str(&x.Role)},
		{"failback", func(v *yaml.Node, p string) { d.str((*string)(&x.Failback))(v, p) }},
		{"priority", d.integer(&x.Priority)},
		{"confirm", d.str(&x.Confirm)},
		{"fence", d.str(&x.Fence)},
		{"fence-command", d.strings(&x.FenceCommand)},
		{"fence-required", d.boolean(&x.FenceRequired)},
		{"stateful", d.boolean(&x.Stateful)},
		{"playbook", d.str(&x.Playbook)},
		{"probe-timeout", d.duration(&x.ProbeTimeout)},
		{"hold", d.duration(&x.Hold)},
		{"max-on-standby", d.duration(&x.MaxOnStandby)},
		{"container", func(v *yaml.Node, p string) { d.container(v, p, &x.Container) }},
	})
}

func (d *decoder) check(n *yaml.Node, path string, x *Check) {
	d.mapping(n, path, []field{
		{"http", func(v *yaml.Node, p string) {
			x.HTTP = &HTTPCheck{}
			d.mapping(v, p, []field{
				{"path", d.str(&x.HTTP.Path)},
				{"expect-status", d.integer(&x.HTTP.ExpectStatus)},
				{"scheme", d.str(&x.HTTP.Scheme)},
			})
		}},
		{"tcp", func(v *yaml.Node, p string) {
			x.TCP = &TCPCheck{}
			d.mapping(v, p, nil)
		}},
	})
}

func (d *decoder) container(n *yaml.Node, path string, x *Container) {
	d.mapping(n, path, []field{
		{"image", d.str(&x.Image)},
		{"limits", func(v *yaml.Node, p string) {
			d.mapping(v, p, []field{
				{"cpu", d.integer(&x.Limits.CPU)},
				{"memory", d.size(&x.Limits.Memory)},
			})
		}},
		{"config", d.stringMap(&x.Config)},
		{"data-disk", func(v *yaml.Node, p string) {
			x.DataDisk = &DataDisk{}
			d.mapping(v, p, []field{
				{"source", d.str(&x.DataDisk.Source)},
				{"path", d.str(&x.DataDisk.Path)},
			})
		}},
	})
}
