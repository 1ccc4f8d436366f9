package monitor

import (
	"context"
	"fmt"

	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/monitor/httpapi"
	"github.com/understudy/understudy/monitor/moves"
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
func (a incidentsAPI) Migrate(ctx context.Context, name string, req api.MigrateRequest) (api.MigrateResponse, error) {
	c := a.c
	return c.migrate(ctx, name, req, recover.FromCLI)
}

// migrate is Migrate for a request from src.
func (c *Controller) migrate(ctx context.Context, name string, req api.MigrateRequest, src recover.Source) (api.MigrateResponse, error) {
	res := api.MigrateResponse{Service: name, DryRun: req.DryRun, Candidates: []api.Candidate{}}
	if !c.running() {
		return res, errNotRunning
	}
	t, err := c.roles.leaderTerm()
	if err != nil {
		return res, err
	}
	svc, ok := moves.SpareService(c.plan().Inv, name)
	if !ok {
		return res, fmt.Errorf("service %q: %w", name, executor.ErrUnknownService)
	}
	ranked := spares.Score(svc, moves.SpareCandidates(c.plan().Inv, t.exec.Records(), c.spareCap.Samples()))
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

// Failback moves a service from the standby or a spare back to its primary
// (see POST /v1/services/{name}/failback).
func (a incidentsAPI) Failback(ctx context.Context, name, reason string) error {
	c := a.c
	if !c.running() {
		return errNotRunning
	}
	t, err := c.roles.leaderTerm()
	if err != nil {
		return err
	}
	return t.exec.Failback(ctx, name, recover.FromCLI, reason)
}
