package plan

import (
	"sort"

	"github.com/understudy/understudy/recover"
)

// Records completes the store's records with the plan's services: one
// record per configured service, sorted by name; a service the store has
// no record of is new (on its primary), and a stored service the plan no
// longer has is left out.
func (p *Plan) Records(stored []recover.Record) []recover.Record {
	byName := map[string]recover.Record{}
	for _, r := range stored {
		byName[r.Service] = r
	}
	names := make([]string, 0, len(p.Services))
	for name := range p.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make([]recover.Record, 0, len(names))
	for _, name := range names {
		r, ok := byName[name]
		if !ok {
			r = recover.New(p.Services[name]).Record()
		}
		out = append(out, r)
	}
	return out
}

// Placements completes the store's placements with the plan's services:
// one per configured service, sorted by name; a service the store has no
// placement of is on its primary under epoch, and a stored service the
// plan no longer has is left out.
func (p *Plan) Placements(stored []recover.Placement, epoch uint64) []recover.Placement {
	seen := map[string]bool{}
	var out []recover.Placement
	for _, pl := range stored {
		if _, ok := p.Services[pl.Service]; ok {
			out = append(out, pl)
			seen[pl.Service] = true
		}
	}
	for name, cfg := range p.Services {
		if !seen[name] {
			out = append(out, recover.Placement{Service: name, Where: recover.AtPrimary, Host: cfg.Service.VM, Address: cfg.Service.Address, Epoch: epoch})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out
}
