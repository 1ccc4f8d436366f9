package probe

import (
	"errors"
	"fmt"
)

// ConfirmPolicy says whether a service's failure must be confirmed by the
// standby agent before it is reported for recovery.
type ConfirmPolicy string

// The confirm policies.
const (
	ConfirmAgent ConfirmPolicy = "agent"
	ConfirmNone  ConfirmPolicy = "none"
)

// Plan is what the monitor watches: the topology (which service runs on
// which VM on which hypervisor) and how each is probed. PlanFromInventory
// builds it from an inventory.
type Plan struct {
	// Timing applies to every target.
	Timing      Timing
	Hypervisors []HypervisorSpec
	VMs         []VMSpec
	Services    []ServiceSpec
}

// HypervisorSpec is one hypervisor.
type HypervisorSpec struct {
	// Name is also the key of its API in Deps.Hypervisors.
	Name string
	// Address is probed with ICMP; empty probes the API only.
	Address string
}

// VMSpec is one primary VM.
type VMSpec struct {
	Name       string
	Hypervisor string
	// Instance is the instance name on the hypervisor.
	Instance string
	// Address is the VM's IP address.
	Address string
}

// ServiceSpec is one protected service.
type ServiceSpec struct {
	Name string
	VM   string
	Port int
	// Check is KindTCP, KindHTTP or KindHTTPS.
	Check Kind
	// Path and ExpectStatus are read by HTTP checks.
	Path         string
	ExpectStatus int
	Confirm      ConfirmPolicy
}

// Validate reports every reference to an unknown hypervisor or VM, every
// duplicate name and every unusable check, all at once.
func (p Plan) Validate() error {
	var errs []error
	if err := p.Timing.validate(); err != nil {
		errs = append(errs, fmt.Errorf("timing: %w", err))
	}
	hyps := map[string]bool{}
	for _, h := range p.Hypervisors {
		if hyps[h.Name] {
			errs = append(errs, fmt.Errorf("hypervisor %q listed twice", h.Name))
		}
		hyps[h.Name] = true
	}
	vms := map[string]bool{}
	for _, v := range p.VMs {
		if vms[v.Name] {
			errs = append(errs, fmt.Errorf("vm %q listed twice", v.Name))
		}
		vms[v.Name] = true
		if !hyps[v.Hypervisor] {
			errs = append(errs, fmt.Errorf("vm %q: unknown hypervisor %q", v.Name, v.Hypervisor))
		}
	}
	svcs := map[string]bool{}
	for _, s := range p.Services {
		if svcs[s.Name] {
			errs = append(errs, fmt.Errorf("service %q listed twice", s.Name))
		}
		svcs[s.Name] = true
		if !vms[s.VM] {
			errs = append(errs, fmt.Errorf("service %q: unknown vm %q", s.Name, s.VM))
		}
		switch s.Check {
		case KindTCP, KindHTTP, KindHTTPS:
		default:
			errs = append(errs, fmt.Errorf("service %q: check %q is not tcp, http or https", s.Name, s.Check))
		}
		if s.Confirm != ConfirmAgent && s.Confirm != ConfirmNone {
			errs = append(errs, fmt.Errorf("service %q: confirm %q is not agent or none", s.Name, s.Confirm))
		}
	}
	return errors.Join(errs...)
}

// Targets lists what the plan probes: per hypervisor its liveness, per VM
// its address (icmp) and its instance state, per service its check against
// its VM's address.
func (p Plan) Targets() []Target {
	var ts []Target
	for _, h := range p.Hypervisors {
		ts = append(ts, Target{
			Name: "hypervisor/" + h.Name, Kind: KindHypervisor, Role: RoleHypervisor, Entity: h.Name,
			Address: h.Address, Hypervisor: h.Name, Timing: p.Timing,
		})
	}
	addr := map[string]string{}
	for _, v := range p.VMs {
		addr[v.Name] = v.Address
		ts = append(ts,
			Target{
				Name: "vm/" + v.Name + "/icmp", Kind: KindICMP, Role: RoleVM, Entity: v.Name,
				Address: v.Address, Timing: p.Timing,
			},
			Target{
				Name: "vm/" + v.Name + "/instance", Kind: KindInstance, Role: RoleVM, Entity: v.Name,
				Hypervisor: v.Hypervisor, Instance: v.Instance, Timing: p.Timing,
			})
	}
	for _, s := range p.Services {
		ts = append(ts, Target{
			Name: "service/" + s.Name, Kind: s.Check, Role: RoleService, Entity: s.Name,
			Address: addr[s.VM], Port: s.Port, Path: s.Path, ExpectStatus: s.ExpectStatus, Timing: p.Timing,
		})
	}
	return ts
}

// index answers topology questions about a plan.
type index struct {
	vm      map[string]VMSpec
	service map[string]ServiceSpec
}

func newIndex(p Plan) index {
	ix := index{vm: map[string]VMSpec{}, service: map[string]ServiceSpec{}}
	for _, v := range p.VMs {
		ix.vm[v.Name] = v
	}
	for _, s := range p.Services {
		ix.service[s.Name] = s
	}
	return ix
}
