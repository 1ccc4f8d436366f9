package probe

import "github.com/understudy/understudy/inventory"

// PlanFromInventory builds the monitor's plan from a validated inventory:
// the monitor timing, every hypervisor, primary VM and service, each
// service's check and confirm policy.
func PlanFromInventory(inv *inventory.Inventory) Plan {
	p := Plan{Timing: Timing{
		Interval: inv.Monitor.Interval, Timeout: inv.Monitor.Timeout,
		Fails: inv.Monitor.Fails, Passes: inv.Monitor.Passes, HostWindow: inv.Monitor.HostWindow,
		FastInterval: inv.Monitor.FastInterval,
	}}
	if p.Timing.HostWindow == 0 { // monitor.host-window: 0s
		p.Timing.HostWindow = -1
	}
	for _, h := range inv.Hypervisors {
		p.Hypervisors = append(p.Hypervisors, HypervisorSpec{Name: h.Name, Address: h.Address})
	}
	for _, v := range inv.VMs {
		p.VMs = append(p.VMs, VMSpec{Name: v.Name, Hypervisor: v.Hypervisor, Instance: v.Instance, Address: v.Address})
	}
	for _, s := range inv.Services {
		spec := ServiceSpec{Name: s.Name, VM: s.VM, Port: s.Port, Check: KindTCP, Confirm: ConfirmPolicy(s.Confirm)}
		if h := s.Check.HTTP; h != nil {
			spec.Check, spec.Path, spec.ExpectStatus = KindHTTP, h.Path, h.ExpectStatus
			if h.Scheme == "https" {
				spec.Check = KindHTTPS
			}
		}
		p.Services = append(p.Services, spec)
	}
	return p
}
