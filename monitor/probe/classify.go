package probe

import (
	"slices"
	"strings"
)

// View is the monitor's current opinion of every hypervisor, VM and service
// (after hysteresis), with the topology that links them.
type View struct {
	Hypervisors []EntityState
	VMs         []VMState
	Services    []ServiceState
}

// EntityState is whether one hypervisor is up and, when down, why.
type EntityState struct {
	Name   string
	Up     bool
	Reason string
}

// VMState is one VM's state and the hypervisor it runs on.
type VMState struct {
	EntityState
	Hypervisor string
}

// ServiceState is one service's state and the VM it runs on.
type ServiceState struct {
	EntityState
	VM string
	// Application is true when the service answered, but wrongly (for
	// example an unexpected HTTP status), rather than not at all.
	Application bool
}

// Finding is one classified failure (or non-failure worth recording).
type Finding struct {
	Kind       EventKind
	Hypervisor string
	VMs        []string
	Services   []string
	Reason     string
	// Application is set on a ServiceDown whose service answered wrongly.
	Application bool
	// Underlying holds, for Isolated, what the failures would be if the
	// monitor were not cut off; the standby agent decides between the two.
	Underlying []Finding
}

// Key identifies a finding across evaluations: its kind and its subject.
func (f Finding) Key() string {
	switch f.Kind {
	case HostDown:
		return "host-down/" + f.Hypervisor
	case Isolated:
		return "isolated"
	case Degraded:
		if len(f.VMs) == 1 && f.Hypervisor == "" {
			return "degraded/vm/" + f.VMs[0]
		}
		return "degraded/hypervisor/" + f.Hypervisor
	case ServiceDown:
		return "service-down/" + strings.Join(f.Services, ",")
	default:
		return f.Kind.String() + "/" + strings.Join(f.VMs, ",")
	}
}

// Classify says what failed, from the view alone (no I/O):
//   - every hypervisor and VM down (at least one exists): one Isolated
//     finding, with the failures it would otherwise be as Underlying;
//   - a hypervisor down with at least one of its VMs down: one HostDown
//     covering all its VMs and their services; with all its VMs up: Degraded;
//   - a VM down on an up hypervisor: VMDown covering its services, unless it
//     has services and all of them answer (Degraded);
//   - a service down on an up VM: ServiceDown (an application failure).
//
// Findings come in the view's order: hypervisors, then VMs, then services.
func Classify(v View) []Finding {
	failures := classifyFailures(v)
	if isolated(v) {
		return []Finding{{
			Kind:       Isolated,
			Reason:     "every hypervisor and VM is down from the monitor",
			Underlying: failures,
		}}
	}
	return failures
}

func isolated(v View) bool {
	if len(v.Hypervisors)+len(v.VMs) == 0 {
		return false
	}
	for _, h := range v.Hypervisors {
		if h.Up {
			return false
		}
	}
	for _, vm := range v.VMs {
		if vm.Up {
			return false
		}
	}
	return true
}

func classifyFailures(v View) []Finding {
	vmsOf := map[string][]VMState{}
	for _, vm := range v.VMs {
		vmsOf[vm.Hypervisor] = append(vmsOf[vm.Hypervisor], vm)
	}
	svcsOf := map[string][]ServiceState{}
	for _, s := range v.Services {
		svcsOf[s.VM] = append(svcsOf[s.VM], s)
	}
	covered := map[string]bool{} // VMs already in a host finding
	var out []Finding

	for _, h := range v.Hypervisors {
		if h.Up {
			continue
		}
		f := Finding{Kind: Degraded, Hypervisor: h.Name, Reason: "hypervisor " + h.Name + ": " + h.Reason}
		var reasons []string
		for _, vm := range vmsOf[h.Name] {
			f.VMs = append(f.VMs, vm.Name)
			for _, s := range svcsOf[vm.Name] {
				f.Services = append(f.Services, s.Name)
			}
			if !vm.Up {
				f.Kind = HostDown
				reasons = append(reasons, "vm "+vm.Name+": "+vm.Reason)
			}
		}
		if f.Kind == HostDown {
			for _, vm := range vmsOf[h.Name] {
				covered[vm.Name] = true
			}
			f.Reason = strings.Join(append([]string{f.Reason}, reasons...), "; ")
		} else {
			f.Reason += " (its VMs answer)"
		}
		out = append(out, sorted(f))
	}

	for _, vm := range v.VMs {
		if vm.Up || covered[vm.Name] {
			continue
		}
		covered[vm.Name] = true
		f := Finding{Kind: VMDown, VMs: []string{vm.Name}, Reason: "vm " + vm.Name + ": " + vm.Reason}
		svcs := svcsOf[vm.Name]
		anyDown := false
		for _, s := range svcs {
			f.Services = append(f.Services, s.Name)
			anyDown = anyDown || !s.Up
		}
		if len(svcs) > 0 && !anyDown {
			f = Finding{Kind: Degraded, VMs: f.VMs, Reason: f.Reason + " (its services answer)"}
		}
		out = append(out, sorted(f))
	}

	for _, s := range v.Services {
		if s.Up || covered[s.VM] {
			continue
		}
		out = append(out, Finding{
			Kind: ServiceDown, Services: []string{s.Name}, VMs: []string{s.VM},
			Reason: "service " + s.Name + ": " + s.Reason, Application: s.Application,
		})
	}
	return out
}

func sorted(f Finding) Finding {
	slices.Sort(f.VMs)
	slices.Sort(f.Services)
	return f
}
