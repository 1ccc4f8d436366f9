package moves

import (
	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor/capacity"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/spares"
)

// What spare ranking (package spares) ranks: the service to move and the
// inventory's spares as the records and the spares' agents see them.

// SpareService is what spare ranking needs of a service: the zone of its
// primary's hypervisor, its role and its memory limit.
func SpareService(inv *inventory.Inventory, name string) (spares.Service, bool) {
	s := inv.Service(name)
	if s == nil {
		return spares.Service{}, false
	}
	out := spares.Service{Name: name, Role: s.Role, Memory: s.Container.Limits.Memory, MaxSteal: inv.Migration.TargetMaxSteal}
	if vm := inv.VM(s.VM); vm != nil {
		if h := inv.Hypervisor(vm.Hypervisor); h != nil {
			out.Zone = h.Zone
		}
	}
	return out, true
}

// SpareCandidates are the inventory's spares with what records say they
// host and the steal and load their agents report (package capacity; unknown
// without an agent or an answer); a capacity the inventory leaves unknown
// (0) is taken as room for one more service.
func SpareCandidates(inv *inventory.Inventory, records []recover.Record, samples map[string]capacity.Sample) []spares.Spare {
	type hosted struct {
		roles  []string
		n      int
		memory int64
	}
	on := map[string]*hosted{}
	for _, r := range records {
		if r.Placement.Where != recover.AtSpare {
			continue
		}
		h := on[r.Placement.Host]
		if h == nil {
			h = &hosted{}
			on[r.Placement.Host] = h
		}
		h.n++
		if s := inv.Service(r.Service); s != nil {
			if s.Role != "" {
				h.roles = append(h.roles, s.Role)
			}
			h.memory += s.Container.Limits.Memory
		}
	}
	out := make([]spares.Spare, 0, len(inv.Spares))
	for _, sp := range inv.Spares {
		h := on[sp.Name]
		if h == nil {
			h = &hosted{}
		}
		cand := spares.Spare{Name: sp.Name, Zone: sp.Zone, Roles: h.roles, FreeSlots: 1, FreeMemory: spares.UnknownMemory}
		if sp.Capacity.Containers > 0 {
			cand.FreeSlots = sp.Capacity.Containers - h.n
		}
		if sp.Capacity.Memory > 0 {
			cand.FreeMemory = sp.Capacity.Memory - h.memory
		}
		switch s, ok := samples[sp.Name]; {
		case ok:
			cand.Steal, cand.Load1, cand.Unmeasured = s.StealAndLoad()
		case sp.Agent != "":
			cand.Unmeasured = "not sampled yet"
		default:
			cand.Unmeasured = "no spares[].agent"
		}
		out = append(out, cand)
	}
	return out
}
