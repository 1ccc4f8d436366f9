package inventory

import "gopkg.in/yaml.v3"

// This file maps YAML keys to fields: one function per type, listing its keys.

func (d *decoder) inventory(n *yaml.Node, inv *Inventory) {
	d.mapping(n, "", []field{
		{"lab", d.Boolean(&inv.Lab)},
		{"dns", func(v *yaml.Node, p string) { d.dns(v, p, &inv.DNS) }},
		{"monitor", func(v *yaml.Node, p string) { d.monitor(v, p, &inv.Monitor) }},
		{"hypervisors", func(v *yaml.Node, p string) {
			d.Sequence(v, p, func(_ int, v *yaml.Node, p string) {
				var h Hypervisor
				d.hypervisor(v, p, &h)
				inv.Hypervisors = append(inv.Hypervisors, h)
			})
		}},
		{"vms", func(v *yaml.Node, p string) {
			d.Sequence(v, p, func(_ int, v *yaml.Node, p string) {
				var vm VM
				d.vm(v, p, &vm)
				inv.VMs = append(inv.VMs, vm)
			})
		}},
		{"standby", func(v *yaml.Node, p string) {
			d.Sequence(v, p, func(_ int, v *yaml.Node, p string) {
				var s Standby
				d.standby(v, p, &s)
				inv.Standby = append(inv.Standby, s)
			})
		}},
		{"spares", func(v *yaml.Node, p string) {
			d.Sequence(v, p, func(_ int, v *yaml.Node, p string) {
				var s Spare
				d.spare(v, p, &s)
				inv.Spares = append(inv.Spares, s)
			})
		}},
		{"proxy", func(v *yaml.Node, p string) { d.proxy(v, p, &inv.Proxy) }},
		{"migration", func(v *yaml.Node, p string) { d.migration(v, p, &inv.Migration) }},
		{"cost", func(v *yaml.Node, p string) {
			d.mapping(v, p, []field{
				{"vm-month", d.Number(&inv.Cost.VMMonth)},
				{"currency", d.Str(&inv.Cost.Currency)},
			})
		}},
		{"services", func(v *yaml.Node, p string) {
			d.Sequence(v, p, func(_ int, v *yaml.Node, p string) {
				var s Service
				d.service(v, p, &s)
				inv.Services = append(inv.Services, s)
			})
		}},
	})
}

func (d *decoder) dns(n *yaml.Node, path string, x *DNS) {
	d.mapping(n, path, []field{
		{"server", d.Str(&x.Server)},
		{"zone", d.Str(&x.Zone)},
		{"tsig-key-file", d.Str(&x.TSIGKeyFile)},
		{"ttl", d.Duration(&x.TTL)},
		{"verify", d.Strings(&x.Verify)},
		{"timeout", d.Duration(&x.Timeout)},
	})
}

func (d *decoder) monitor(n *yaml.Node, path string, x *Monitor) {
	d.mapping(n, path, []field{
		{"listen", d.Str(&x.Listen)},
		{"state-dir", d.Str(&x.StateDir)},
		{"interval", d.Duration(&x.Interval)},
		{"timeout", d.Duration(&x.Timeout)},
		{"fails", d.Integer(&x.Fails)},
		{"passes", d.Integer(&x.Passes)},
		{"host-window", d.Duration(&x.HostWindow)},
		{"fast-interval", d.Duration(&x.FastInterval)},
		{"max-parallel-activations", d.Integer(&x.MaxParallelActivations)},
		{"agent-tls", func(v *yaml.Node, p string) { d.tls(v, p, &x.AgentTLS) }},
		{"api-tls", func(v *yaml.Node, p string) { d.tls(v, p, &x.APITLS) }},
		{"api-client-tls", func(v *yaml.Node, p string) { d.tls(v, p, &x.APIClientTLS) }},
		{"api-token-file", d.Str(&x.APITokenFile)},
		{"insecure-api", d.Boolean(&x.InsecureAPI)},
		{"etcd", func(v *yaml.Node, p string) {
			x.Etcd = &Etcd{}
			d.mapping(v, p, []field{
				{"endpoints", d.Strings(&x.Etcd.Endpoints)},
				{"tls", func(v *yaml.Node, p string) { d.tls(v, p, &x.Etcd.TLS) }},
			})
		}},
		{"flap", func(v *yaml.Node, p string) {
			d.mapping(v, p, []field{
				{"max", d.Integer(&x.Flap.Max)},
				{"window", d.Duration(&x.Flap.Window)},
			})
		}},
		{"alert-url", d.Str(&x.AlertURL)},
	})
}

func (d *decoder) tls(n *yaml.Node, path string, x *TLSFiles) {
	d.mapping(n, path, []field{
		{"ca", d.Str(&x.CA)},
		{"cert", d.Str(&x.Cert)},
		{"key", d.Str(&x.Key)},
	})
}

func (d *decoder) incus(n *yaml.Node, path string, x *Incus) {
	d.mapping(n, path, []field{
		{"socket", d.Str(&x.Socket)},
		{"url", d.Str(&x.URL)},
		{"client-cert", d.Str(&x.ClientCert)},
		{"client-key", d.Str(&x.ClientKey)},
		{"server-cert", d.Str(&x.ServerCert)},
	})
}

func (d *decoder) capacity(n *yaml.Node, path string, x *Capacity) {
	d.mapping(n, path, []field{
		{"containers", d.Integer(&x.Containers)},
		{"memory", d.Size(&x.Memory)},
	})
}

func (d *decoder) hypervisor(n *yaml.Node, path string, x *Hypervisor) {
	d.mapping(n, path, []field{
		{"name", d.Str(&x.Name)},
		{"address", d.Str(&x.Address)},
		{"zone", d.Str(&x.Zone)},
		{"incus", func(v *yaml.Node, p string) { d.incus(v, p, &x.Incus) }},
	})
}

func (d *decoder) vm(n *yaml.Node, path string, x *VM) {
	d.mapping(n, path, []field{
		{"name", d.Str(&x.Name)},
		{"hypervisor", d.Str(&x.Hypervisor)},
		{"instance", d.Str(&x.Instance)},
		{"address", d.Str(&x.Address)},
	})
}

func (d *decoder) standby(n *yaml.Node, path string, x *Standby) {
	d.mapping(n, path, []field{
		{"name", d.Str(&x.Name)},
		{"agent", d.Str(&x.Agent)},
		{"zone", d.Str(&x.Zone)},
		{"capacity", func(v *yaml.Node, p string) { d.capacity(v, p, &x.Capacity) }},
		{"incus", func(v *yaml.Node, p string) { d.incus(v, p, &x.Incus) }},
		{"network", func(v *yaml.Node, p string) { x.Network = d.network(v, p) }},
		{"overload", func(v *yaml.Node, p string) { x.Overload = &Overload{}; d.overload(v, p, x.Overload) }},
	})
}

func (d *decoder) spare(n *yaml.Node, path string, x *Spare) {
	d.mapping(n, path, []field{
		{"name", d.Str(&x.Name)},
		{"zone", d.Str(&x.Zone)},
		{"agent", d.Str(&x.Agent)},
		{"incus", func(v *yaml.Node, p string) { d.incus(v, p, &x.Incus) }},
		{"capacity", func(v *yaml.Node, p string) { d.capacity(v, p, &x.Capacity) }},
		{"network", func(v *yaml.Node, p string) { x.Network = d.network(v, p) }},
	})
}

func (d *decoder) network(n *yaml.Node, path string) *Network {
	x := &Network{}
	d.mapping(n, path, []field{
		{"gateway", d.Str(&x.Gateway)},
		{"prefix-len", d.Integer(&x.PrefixLen)},
		{"pool", d.Str(&x.Pool)},
	})
	return x
}

func (d *decoder) proxy(n *yaml.Node, path string, x *Proxy) {
	d.mapping(n, path, []field{
		{"listen", d.Str(&x.Listen)},
		{"monitor", d.StringOrStrings(&x.Monitors)},
		{"probe-timeout", d.Duration(&x.ProbeTimeout)},
		{"hold", d.Duration(&x.Hold)},
		{"queue", d.Integer(&x.Queue)},
	})
}

func (d *decoder) migration(n *yaml.Node, path string, x *Migration) {
	d.mapping(n, path, []field{
		{"overload", func(v *yaml.Node, p string) { d.overload(v, p, &x.Overload) }},
		{"target-max-steal", d.Number(&x.TargetMaxSteal)},
		{"bandwidth", d.bandwidth(&x.Bandwidth)},
		{"max-parallel", d.Integer(&x.MaxParallel)},
		{"live", func(v *yaml.Node, p string) { d.Str((*string)(&x.Live))(v, p) }},
	})
}

func (d *decoder) service(n *yaml.Node, path string, x *Service) {
	d.mapping(n, path, []field{
		{"name", d.Str(&x.Name)},
		{"fqdn", d.Str(&x.FQDN)},
		{"vm", d.Str(&x.VM)},
		{"port", d.Integer(&x.Port)},
		{"check", func(v *yaml.Node, p string) { d.check(v, p, &x.Check) }},
		{"standby", d.Str(&x.Standby)},
		{"mode", func(v *yaml.Node, p string) { d.Str((*string)(&x.Mode))(v, p) }},
		{"role", d.Str(&x.Role)},
		{"failback", func(v *yaml.Node, p string) { d.Str((*string)(&x.Failback))(v, p) }},
		{"priority", d.Integer(&x.Priority)},
		{"confirm", d.Str(&x.Confirm)},
		{"fence", d.Str(&x.Fence)},
		{"fence-command", d.Strings(&x.FenceCommand)},
		{"fence-method", d.Str(&x.FenceMethod)},
		{"fence-required", d.Boolean(&x.FenceRequired)},
		{"stateful", d.Boolean(&x.Stateful)},
		{"playbook", d.Str(&x.Playbook)},
		{"probe-timeout", d.Duration(&x.ProbeTimeout)},
		{"hold", d.Duration(&x.Hold)},
		{"proxy-reroute", func(v *yaml.Node, p string) { d.Str((*string)(&x.ProxyReroute))(v, p) }},
		{"max-on-standby", d.Duration(&x.MaxOnStandby)},
		{"pinned", d.Boolean(&x.Pinned)},
		{"drain", func(v *yaml.Node, p string) { x.Drain = d.hook(v, p) }},
		{"undrain", func(v *yaml.Node, p string) { x.Undrain = d.hook(v, p) }},
		{"container", func(v *yaml.Node, p string) { d.container(v, p, &x.Container) }},
		{"sync", func(v *yaml.Node, p string) { d.sync(v, p, &x.Sync) }},
	})
}

func (d *decoder) check(n *yaml.Node, path string, x *Check) {
	d.mapping(n, path, []field{
		{"http", func(v *yaml.Node, p string) {
			x.HTTP = &HTTPCheck{}
			d.mapping(v, p, []field{
				{"path", d.Str(&x.HTTP.Path)},
				{"expect-status", d.Integer(&x.HTTP.ExpectStatus)},
				{"scheme", d.Str(&x.HTTP.Scheme)},
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
		{"image", d.Str(&x.Image)},
		{"limits", func(v *yaml.Node, p string) {
			d.mapping(v, p, []field{
				{"cpu", d.Integer(&x.Limits.CPU)},
				{"memory", d.Size(&x.Limits.Memory)},
			})
		}},
		{"config", d.StringMap(&x.Config)},
		{"data-disk", func(v *yaml.Node, p string) {
			x.DataDisk = &DataDisk{}
			d.mapping(v, p, []field{
				{"source", d.Str(&x.DataDisk.Source)},
				{"path", d.Str(&x.DataDisk.Path)},
			})
		}},
	})
}
