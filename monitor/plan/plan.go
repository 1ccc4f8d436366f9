// Package plan is everything the monitor daemon derives from one
// inventory: recover's configuration of every service (playbooks
// included), the standby agents' container specs, the services' checks as
// probe targets, the probe engine's plan, and the standby VMs' address
// pools. A plan is built completely (and so validated) before it replaces
// the running one (Caddy's validate-then-swap), and never changes after.
//
// It is pure: no I/O beyond reading playbook files through package
// playbooks, no goroutines.
package plan

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor/probe"
	"github.com/understudy/understudy/playbooks"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/standby"
)

// Plan is everything the daemon derives from one inventory. It is never
// changed after Build.
type Plan struct {
	Inv      *inventory.Inventory
	Services map[string]recover.Config // recover's view, by service name
	Specs    map[string]standby.ServiceSpec
	Checks   map[string]probe.Target // the service check, Address left empty
	Standbys map[string]string       // service name -> standby name
	Monitor  probe.Plan
	// ByVM maps a primary VM's address to the standby of its first service,
	// so the monitor's confirmation asks the agent that serves it.
	ByVM map[string]string
	// Pools are the standby VMs' address pools (standby[].network), by
	// standby name: an activation's address must lie in its agent's pool.
	Pools map[string]AddrRange
}

// AddrRange is an inclusive range of addresses.
type AddrRange struct{ First, Last netip.Addr }

// Contains reports whether a lies in the range.
func (r AddrRange) Contains(a netip.Addr) bool {
	return r.First.Compare(a) <= 0 && a.Compare(r.Last) <= 0
}

// String is the range as FIRST-LAST.
func (r AddrRange) String() string { return r.First.String() + "-" + r.Last.String() }

// Build derives the plan from a validated inventory. Errors here (a
// playbook file that does not parse, an address that is not an IP) refuse the
// inventory as a whole.
func Build(inv *inventory.Inventory) (*Plan, error) {
	p := &Plan{
		Inv:      inv,
		Services: map[string]recover.Config{},
		Specs:    map[string]standby.ServiceSpec{},
		Checks:   map[string]probe.Target{},
		Standbys: map[string]string{},
		Monitor:  probe.PlanFromInventory(inv),
		ByVM:     map[string]string{},
		Pools:    map[string]AddrRange{},
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
		p.Pools[sb.Name] = AddrRange{first, last}
	}
	for _, s := range inv.Services {
		cfg, err := recoverConfig(inv, s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.Services[s.Name] = cfg
		p.Specs[s.Name] = agentSpec(s)
		p.Checks[s.Name] = checkTarget(s)
		p.Standbys[s.Name] = s.Standby
		if vm := inv.VM(s.VM); vm != nil {
			if _, ok := p.ByVM[vm.Address]; !ok {
				p.ByVM[vm.Address] = s.Standby
			}
		}
	}
	if err := p.Monitor.Validate(); err != nil {
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
			FenceMethod: s.FenceMethod, FenceRequired: s.FenceRequired,
		},
		Playbook:         pb,
		Moves:            movePolicy(s),
		MigratePlaybook:  withDrain(recover.DefaultMigratePlaybook(), s),
		FailbackPlaybook: withDrain(recover.DefaultFailbackPlaybook(), s),
	}, nil
}

// withDrain is a move playbook with the service's drain and undrain hooks;
// nil (the default playbook) without them.
func withDrain(pb *playbooks.Playbook, s inventory.Service) *playbooks.Playbook {
	if s.Drain == nil && s.Undrain == nil {
		return nil
	}
	var drain, undrain *playbooks.Step
	if h := s.Drain; h != nil {
		st := recover.DrainStep(recover.StepDrain, h.URL, h.Command)
		drain = &st
	}
	if h := s.Undrain; h != nil {
		st := recover.DrainStep(recover.StepUndrain, h.URL, h.Command)
		undrain = &st
	}
	return recover.WithDrain(pb, drain, undrain)
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

// FlapPolicy is the inventory's flap damping for recover.
func FlapPolicy(inv *inventory.Inventory) recover.FlapPolicy {
	return recover.FlapPolicy{Max: inv.Monitor.Flap.Max, Window: inv.Monitor.Flap.Window}
}

// movePolicy is a service's automatic migration and failback policy.
// HoldDown is left to recover's default unless Options.HoldDown sets it.
func movePolicy(s inventory.Service) recover.MovePolicy {
	return recover.MovePolicy{MaxOnStandby: s.MaxOnStandby, AutoFailback: s.Failback == inventory.FailbackAuto}
}
