package monitor

import (
	"context"
	"fmt"
	"strings"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/monitor/capacity"
	"github.com/understudy/understudy/monitor/conns"
	"github.com/understudy/understudy/monitor/moves"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/executor"
)

// CapacitySource reads what a standby or spare VM's agent reports about
// its load and CPU steal (GET /v1/capacity); see capacity.Source. The
// default asks the agent clients the controller already holds; tests pass
// a fake.
type CapacitySource = capacity.Source

// newOverloadWatch returns the overload watch of the controller's standbys.
func (c *Controller) newOverloadWatch() *capacity.Watch {
	src := c.opts.Capacity
	if src == nil {
		src = conns.StandbyCapacity{Conns: c.conns}
	}
	return capacity.NewWatch(src, c.vms, c.log)
}

// policyMigrate migrates a service the move policy chose to the best
// spare, and records why that spare in the incident's reason ("...; moved
// web (38 % of it) to spare-1: zone az1, steal 0%, load 0.30 per CPU, ...").
func (c *Controller) policyMigrate(ctx context.Context, name, reason string) (string, error) {
	dry, err := c.migrate(ctx, name, api.MigrateRequest{DryRun: true}, recover.FromPolicy)
	if err != nil {
		return "", err
	}
	req := api.MigrateRequest{Reason: reason}
	for _, cand := range dry.Candidates {
		if cand.Rank == 1 {
			req.To = cand.Name
			req.Reason = fmt.Sprintf("%s to %s: %s", reason, cand.Name, strings.TrimPrefix(strings.Join(cand.Reasons, "; "), "chosen: "))
		}
	}
	res, err := c.migrate(ctx, name, req, recover.FromPolicy)
	return res.To, err
}

// newMovePolicy returns the move policy of a term whose executor is exec.
func (c *Controller) newMovePolicy(exec *executor.Executor) *moves.Policy {
	return moves.New(moves.Config{
		Executor: exec,
		Services: moves.PlanServices{Plan: c.plan, CheckFunc: c.step.Check, SampleFunc: c.sampleSpares,
			MigrateFunc: c.policyMigrate},
		Overload: moves.WatchOverload{Watch: c.newOverloadWatch(), Views: c.vms, Inventory: func() *inventory.Inventory { return c.plan().Inv }},
		Interval: c.opts.MoveInterval,
		Clock:    c.opts.Clock,
		Logger:   c.opts.Logger,
	})
}
