package monitor

import (
	"context"
	"fmt"

	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/monitor/httpapi"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/executor"
	"github.com/understudy/understudy/spares"
)

func candidates(ranked []spares.Ranked) []api.Candidate {
	out := make([]api.Candidate, 0, len(ranked))
	for _, r := range ranked {
		c := api.Candidate{Name: r.Name, Zone: r.Zone, Roles: r.Roles, Steal: r.Steal, Load1: r.Load1, Unmeasured: r.Unmeasured,
			FreeMemory: r.FreeMemory, FreeSlots: r.FreeSlots, Eligible: r.Eligible, Rank: r.Rank, Reasons: r.Reasons}
		if c.FreeMemory == spares.UnknownMemory {
			c.FreeMemory = 0
		}
		out = append(out, c)
	}
	return out
}

// Migrate scores the spares for a service and, unless req.DryRun, asks the
// executor to migrate it to req.To or the best spare. It returns once the
// executor took the request.
func (c *Controller) Migrate(ctx context.Context, name string, req api.MigrateRequest) (api.MigrateResponse, error) {
	return c.migrate(ctx, name, req, recover.FromCLI)
}

// migrate is Migrate for a request from src.
func (c *Controller) migrate(ctx context.Context, name string, req api.MigrateRequest, src recover.Source) (api.MigrateResponse, error) {
	res := api.MigrateResponse{Service: name, DryRun: req.DryRun, Candidates: []api.Candidate{}}
	if !c.running() {
		return res, errNotRunning
	}
	t, err := c.leaderTerm()
	if err != nil {
		return res, err
	}
	svc, ok := c.placementService(name)
	if !ok {
		return res, fmt.Errorf("service %q: %w", name, executor.ErrUnknownService)
	}
	ranked := spares.Score(svc, c.spareCandidates(t.exec.Records()))
	res.Candidates = candidates(ranked)
	if req.DryRun {
		return res, nil
	}
	to := req.To
	if to == "" {
		best, ok := spares.Best(ranked)
		if !ok {
			return res, fmt.Errorf("migrate %q: %w among %d spare(s)", name, httpapi.ErrNoSpare, len(ranked))
		}
		to = best.Name
	} else if rk, ok := spares.Find(ranked, to); !ok || !rk.Eligible {
		why := "not in the inventory"
		if ok {
			why = fmt.Sprint(rk.Reasons)
		}
		return res, fmt.Errorf("migrate %q to %q (%s): %w", name, to, why, httpapi.ErrNoSpare)
	}
	res.To = to
	return res, t.exec.Migrate(ctx, name, to, src, req.Reason)
}

// placementService is what placement needs of a service: the zone of its
// primary's hypervisor, its role and its memory limit.
func (c *Controller) placementService(name string) (spares.Service, bool) {
	inv := c.plan().Inv
	s := inv.Service(name)
	if s == nil {
		return spares.Service{}, false
	}
	out := spares.Service{Name: name, Role: s.Role, Memory: s.Container.Limits.Memory}
	if vm := inv.VM(s.VM); vm != nil {
		if h := inv.Hypervisor(vm.Hypervisor); h != nil {
			out.Zone = h.Zone
		}
	}
	return out, true
}

// spareCandidates are the inventory's spares with what records say they
// host and the steal and load their agents report (sparecap.go; unknown
// without an agent or an answer); a capacity the inventory leaves unknown
// (0) is taken as room for one more service.
func (c *Controller) spareCandidates(records []recover.Record) []spares.Spare {
	inv := c.plan().Inv
	samples := c.spareCap.Samples()
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

// Failback moves a service from the standby or a spare back to its primary
// (see POST /v1/services/{name}/failback).
func (c *Controller) Failback(ctx context.Context, name, reason string) error {
	if !c.running() {
		return errNotRunning
	}
	t, err := c.leaderTerm()
	if err != nil {
		return err
	}
	return t.exec.Failback(ctx, name, recover.FromCLI, reason)
}
