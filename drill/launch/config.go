package launch

import (
	"fmt"
	"net/netip"

	"github.com/understudy/understudy/drill"
	"github.com/understudy/understudy/inventory"
)

// ConfigFor builds the configuration of a drill of the service name from
// the inventory: its primary, its check and its neighbours.
func ConfigFor(inv *inventory.Inventory, name string, kind drill.Kind, via drill.Via, load int) (drill.Config, error) {
	svc := inv.Service(name)
	if svc == nil {
		return drill.Config{}, fmt.Errorf("service %q is not in the inventory", name)
	}
	vm := inv.VM(svc.VM)
	if vm == nil {
		return drill.Config{}, fmt.Errorf("service %q: VM %q is not in the inventory", name, svc.VM)
	}
	addr, err := netip.ParseAddr(vm.Address)
	if err != nil {
		return drill.Config{}, fmt.Errorf("VM %q: address %q: %w", vm.Name, vm.Address, err)
	}
	cfg := drill.Config{
		Service: svc.Name, FQDN: svc.FQDN, Mode: string(svc.Mode), Port: svc.Port,
		Primary: drill.Target{Instance: vm.Instance, Address: addr},
		Kind:    kind, Via: via, Clients: load, Lab: inv.Lab,
	}
	if inv.Proxy.Listen != "" {
		cfg.ProxyAddr = drill.LocalAddr(inv.Proxy.Listen)
	}
	cfg.CheckPath, cfg.ExpectStatus, cfg.TCPCheck = checkOf(svc)
	cfg.Neighbours = neighboursOf(inv, svc, vm.Hypervisor)
	return cfg, nil
}

// checkOf returns a service's check as the drill's Config has it.
func checkOf(svc *inventory.Service) (path string, status int, tcp bool) {
	if h := svc.Check.HTTP; h != nil {
		return h.Path, h.ExpectStatus, false
	}
	return "", 0, true
}

// neighboursOf lists the other services whose primaries run on the
// hypervisor hv, marking those on the drilled service's VM: a host-down
// drill fails them all over too, a fault of the VM those on it, and
// --restore brings them home.
func neighboursOf(inv *inventory.Inventory, drilled *inventory.Service, hv string) []drill.Neighbour {
	var out []drill.Neighbour
	for i := range inv.Services {
		svc := &inv.Services[i]
		vm := inv.VM(svc.VM)
		if svc.Name == drilled.Name || vm == nil || vm.Hypervisor != hv {
			continue
		}
		addr, err := netip.ParseAddr(vm.Address)
		if err != nil {
			continue // validate refuses it; the drill cannot restore what it cannot reach
		}
		n := drill.Neighbour{Service: svc.Name, FQDN: svc.FQDN, Port: svc.Port,
			Primary: drill.Target{Instance: vm.Instance, Address: addr}, SameVM: svc.VM == drilled.VM}
		n.CheckPath, n.ExpectStatus, n.TCPCheck = checkOf(svc)
		out = append(out, n)
	}
	return out
}

// HostConfigFor builds the configuration of a drill of the whole
// hypervisor hv from the inventory: every service whose primary runs on it,
// or only those named in only (each must run there), each drilled with
// kind (host-down) as ConfigFor builds it, without neighbours: the host
// drill watches and restores each of them itself.
func HostConfigFor(inv *inventory.Inventory, hv string, only []string, kind drill.Kind, via drill.Via, load int) (drill.HostConfig, error) {
	if inv.Hypervisor(hv) == nil {
		return drill.HostConfig{}, fmt.Errorf("hypervisor %q is not in the inventory", hv)
	}
	want := map[string]bool{}
	for _, name := range only {
		want[name] = true
	}
	hc := drill.HostConfig{Hypervisor: hv}
	for i := range inv.Services {
		svc := &inv.Services[i]
		vm := inv.VM(svc.VM)
		if vm == nil || (len(only) > 0 && !want[svc.Name]) {
			continue
		}
		if vm.Hypervisor != hv {
			if want[svc.Name] {
				return drill.HostConfig{}, fmt.Errorf("service %q runs on hypervisor %q, not on %q", svc.Name, vm.Hypervisor, hv)
			}
			continue
		}
		delete(want, svc.Name)
		cfg, err := ConfigFor(inv, svc.Name, kind, via, load)
		if err != nil {
			return drill.HostConfig{}, err
		}
		cfg.Neighbours = nil
		hc.Services = append(hc.Services, cfg)
	}
	for name := range want {
		return drill.HostConfig{}, fmt.Errorf("service %q is not in the inventory", name)
	}
	if len(hc.Services) == 0 {
		return drill.HostConfig{}, fmt.Errorf("hypervisor %q runs no service's primary", hv)
	}
	return hc, nil
}
