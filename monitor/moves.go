package monitor

import (
	"context"
	"errors"
	"time"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/monitor/capacity"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/executor"
)

// defaultMoveInterval is the pause between two looks at the move policies.
const defaultMoveInterval = 5 * time.Second

// autoMigrateRetry is the least time between two automatic migrations of
// one service, so that a migration that fails (and leaves the service on
// the standby, still due) is not retried on every look.
const autoMigrateRetry = time.Minute

// moveState is what the move loop remembers between looks.
type moveState struct {
	healthy  map[string]time.Time // service -> its primary passes its check since
	tried    map[string]time.Time // service -> last automatic migration sent
	overload *capacity.Watch      // the standbys' overload detectors
}

// movePolicy is a service's automatic migration and failback policy.
// HoldDown is left to recover's default unless Options.HoldDown sets it.
func movePolicy(s inventory.Service) recover.MovePolicy {
	return recover.MovePolicy{MaxOnStandby: s.MaxOnStandby, AutoFailback: s.Failback == inventory.FailbackAuto}
}

// moveLoop applies the services' move policies (max-on-standby,
// failback: auto, migration.overload) until ctx ends: every
// Options.MoveInterval it checks the primaries of the services that are
// away from them and wait for an automatic failback, samples every standby
// VM's capacity for the overload detectors (overload.go), asks recover what
// is due, and sends it.
func (c *Controller) moveLoop(ctx context.Context) {
	every := c.opts.MoveInterval
	if every <= 0 {
		every = defaultMoveInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	st := moveState{healthy: map[string]time.Time{}, tried: map[string]time.Time{}, overload: c.newOverloadWatch()}
	defer st.overload.Forget() // a follower reports no overload, nor stale samples
	// A new leader looks at once: a migrate request in its first interval
	// must not find the VMs unsampled.
	c.moveTick(ctx, st)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.moveTick(ctx, st)
		}
	}
}

// moveTick is one look at the move policies.
func (c *Controller) moveTick(ctx context.Context, st moveState) {
	facts := c.primaryFacts(ctx, st.healthy)
	c.overloadFacts(ctx, st, facts)
	c.sampleSpares(ctx) // placement ranks spares by these
	for name, d := range c.exec().Due(facts) {
		if ctx.Err() != nil {
			return
		}
		if d.Kind == recover.KindMigrate {
			if last, ok := st.tried[name]; ok && time.Since(last) < autoMigrateRetry {
				continue
			}
			st.tried[name] = time.Now()
		}
		log := c.log.With("service", name, "move", d.Kind, "reason", d.Reason)
		tctx, cancel := context.WithTimeout(ctx, time.Second)
		var err error
		switch d.Kind {
		case recover.KindFailback:
			err = c.exec().Failback(tctx, name, recover.FromPolicy, d.Reason)
		case recover.KindMigrate:
			var res api.MigrateResponse
			res, err = c.migrate(tctx, name, api.MigrateRequest{Reason: d.Reason}, recover.FromPolicy)
			log = log.With("to", res.To)
		}
		cancel()
		switch {
		case err == nil:
			log.Info("automatic move started")
			if d.Kind == recover.KindMigrate && facts[name].Overloaded {
				st.overload.Moved(c.plan().standbys[name])
			}
		case errors.Is(err, executor.ErrBusy), errors.Is(err, context.DeadlineExceeded):
			delete(st.tried, name) // not sent: try again at the next look
			log.Info("automatic move waits for a free migration slot")
		default:
			log.Warn("automatic move not started", "err", err)
		}
	}
}

// primaryFacts checks, once, the primary of every service that is on the
// standby or a spare with failback: auto, with the service's own check, and
// returns since when each passes. A failed check forgets the time.
func (c *Controller) primaryFacts(ctx context.Context, healthy map[string]time.Time) map[string]recover.Facts {
	p := c.plan()
	facts := map[string]recover.Facts{}
	seen := map[string]bool{}
	for _, rec := range c.exec().Records() {
		cfg, ok := p.services[rec.Service]
		away := rec.State == recover.OnStandby || rec.State == recover.OnSpare
		if !ok || !away || !cfg.Moves.AutoFailback || rec.Incident.Open() {
			continue
		}
		seen[rec.Service] = true
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := (&healthChecker{c}).Check(cctx, rec.Service, cfg.Service.Address)
		cancel()
		if err != nil {
			delete(healthy, rec.Service)
			continue
		}
		if _, ok := healthy[rec.Service]; !ok {
			healthy[rec.Service] = time.Now()
		}
		facts[rec.Service] = recover.Facts{PrimaryHealthySince: healthy[rec.Service]}
	}
	for name := range healthy {
		if !seen[name] {
			delete(healthy, name)
		}
	}
	return facts
}
