package monitor

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor/prepare"
	"github.com/understudy/understudy/monitor/probe"
	"github.com/understudy/understudy/playbooks"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/executor"
	"github.com/understudy/understudy/standby"
)

// plan is everything the controller derives from one inventory. It is built
// completely (and so validated) before it replaces the running one, and it
// is never changed afterwards.
type plan struct {
	inv      *inventory.Inventory
	services map[string]recover.Config // recover's view, by service name
	specs    map[string]standby.ServiceSpec
	checks   map[string]probe.Target // the service check, Address left empty
	standbys map[string]string       // service name -> standby name
	monitor  probe.Plan
	// byVM maps a primary VM's address to the standby of its first service,
	// so the monitor's confirmation asks the agent that serves it.
	byVM map[string]string
	// pools are the standby VMs' address pools (standby[].network), by
	// standby name: an activation's address must lie in its agent's pool.
	pools map[string]addrRange
}

// addrRange is an inclusive range of addresses.
type addrRange struct{ first, last netip.Addr }

func (r addrRange) contains(a netip.Addr) bool {
	return r.first.Compare(a) <= 0 && a.Compare(r.last) <= 0
}

func (r addrRange) String() string { return r.first.String() + "-" + r.last.String() }

// buildPlan derives the plan from a validated inventory. Errors here (a
// playbook file that does not parse, an address that is not an IP) refuse the
// inventory as a whole.
func buildPlan(inv *inventory.Inventory) (*plan, error) {
	p := &plan{
		inv:      inv,
		services: map[string]recover.Config{},
		specs:    map[string]standby.ServiceSpec{},
		checks:   map[string]probe.Target{},
		standbys: map[string]string{},
		monitor:  probe.PlanFromInventory(inv),
		byVM:     map[string]string{},
		pools:    map[string]addrRange{},
	}
	var errs []error
	for _, sb := range inv.Standby {
		if sb.Network == nil {
			continue
		}
		first, last, err := inventory.ParsePool(sb.Network.Pool)
		if err != nil {
			errs = append(errs, fmt.Errorf("standby %q: network.pool: %w", sb.Name, err))
			continue
		}
		p.pools[sb.Name] = addrRange{first, last}
	}
	for _, s := range inv.Services {
		cfg, err := recoverConfig(inv, s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.services[s.Name] = cfg
		p.specs[s.Name] = agentSpec(s)
		p.checks[s.Name] = checkTarget(s)
		p.standbys[s.Name] = s.Standby
		if vm := inv.VM(s.VM); vm != nil {
			if _, ok := p.byVM[vm.Address]; !ok {
				p.byVM[vm.Address] = s.Standby
			}
		}
	}
	if err := p.monitor.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("inventory %s: %w", inv.File(), err)
	}
	return p, nil
}

// recoverConfig is recover's configuration of one service.
func recoverConfig(inv *inventory.Inventory, s inventory.Service) (recover.Config, error) {
	vm := inv.VM(s.VM)
	if vm == nil {
		return recover.Config{}, fmt.Errorf("service %q: unknown vm %q", s.Name, s.VM)
	}
	addr, err := netip.ParseAddr(vm.Address)
	if err != nil {
		return recover.Config{}, fmt.Errorf("service %q: vm %q address: %w", s.Name, vm.Name, err)
	}
	pb, err := playbooks.For(string(s.Mode), s.Playbook)
	if err != nil {
		return recover.Config{}, fmt.Errorf("service %q: playbook: %w", s.Name, err)
	}
	instance := vm.Instance
	if instance == "" {
		instance = vm.Name
	}
	return recover.Config{
		Service: recover.Service{
			Name: s.Name, FQDN: s.FQDN, VM: vm.Name, Hypervisor: vm.Hypervisor,
			Instance: instance, Address: addr, Standby: s.Standby, Mode: string(s.Mode),
			Confirm: s.Confirm, Fence: s.Fence, FenceCommand: s.FenceCommand,
			FenceRequired: s.FenceRequired,
		},
		Playbook: pb,
		Moves:    movePolicy(s),
	}, nil
}

// agentSpec is what the standby agent prepares for a service (without the
// epoch, which the caller adds).
func agentSpec(s inventory.Service) standby.ServiceSpec {
	var cfg map[string]string
	if len(s.Container.Config) > 0 {
		cfg = make(map[string]string, len(s.Container.Config))
		for k, v := range s.Container.Config {
			cfg[k] = v
		}
	}
	spec := standby.ServiceSpec{
		Name: s.Name, Image: s.Container.Image, Mode: standby.Mode(s.Mode), Port: s.Port,
		CPU: s.Container.Limits.CPU, Memory: s.Container.Limits.Memory, Config: cfg,
		Priority: s.Priority,
	}
	if d := s.Container.DataDisk; d != nil {
		spec.DataDisk = &standby.DataDisk{Source: d.Source, Path: d.Path}
	}
	return spec
}

// checkTarget is the service's check as a monitor target, to be pointed at
// an address by the health checker.
func checkTarget(s inventory.Service) probe.Target {
	t := probe.Target{Name: "health/" + s.Name, Kind: probe.KindTCP, Port: s.Port}
	if h := s.Check.HTTP; h != nil {
		t.Kind, t.Path, t.ExpectStatus = probe.KindHTTP, h.Path, h.ExpectStatus
		if h.Scheme == "https" {
			t.Kind = probe.KindHTTPS
		}
	}
	return t
}

// flapPolicy is the inventory's flap damping for recover.
func flapPolicy(inv *inventory.Inventory) recover.FlapPolicy {
	return recover.FlapPolicy{Max: inv.Monitor.Flap.Max, Window: inv.Monitor.Flap.Window}
}

// prepareView is what the standby preparer reads: the plan's agent specs
// and the executor's records.
type prepareView struct {
	plan func() *plan
	exec func() *executor.Executor
}

var _ prepare.Services = prepareView{}

// Specs implements prepare.Services.
func (v prepareView) Specs() map[string]prepare.Spec {
	p := v.plan()
	out := make(map[string]prepare.Spec, len(p.specs))
	for name, spec := range p.specs {
		out[name] = prepare.Spec{Standby: p.standbys[name], Spec: spec}
	}
	return out
}

// Records implements prepare.Services.
func (v prepareView) Records() []recover.Record { return v.exec().Records() }

// movePolicy is a service's automatic migration and failback policy.
// HoldDown is left to recover's default unless Options.HoldDown sets it.
func movePolicy(s inventory.Service) recover.MovePolicy {
	return recover.MovePolicy{MaxOnStandby: s.MaxOnStandby, AutoFailback: s.Failback == inventory.FailbackAuto}
}
