// Package moves is the monitor daemon's move policy: while a monitor
// leads, every interval it checks the primaries of the services that wait
// for an automatic failback (failback: auto), samples the standbys for the
// overload trigger (migration.overload) and the spares for spare ranking, asks
// the executor what is due (recover.Due: a failback after the hold-down, a
// migration after max-on-standby or off an overloaded standby), and sends
// it with source policy.
//
// It sees the daemon through three small interfaces: Executor (the term's
// executor), Services (the inventory's services, their checks and the
// migration to the best spare) and Overload (the standbys' overload watch).
// It decides nothing about incidents itself (package recover does).
package moves

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/understudy/understudy/internal/clock"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/executor"
)

// defaultMoveInterval is the pause between two looks at the move policies.
const defaultMoveInterval = 5 * time.Second

// autoMigrateRetry is the least time between two automatic migrations of
// one service, so that a migration that fails (and leaves the service on
// the standby, still due) is not retried on every look.
const autoMigrateRetry = time.Minute

// Executor is what the policy asks of the term's executor.
type Executor interface {
	Records() []recover.Record
	Due(facts map[string]recover.Facts) map[string]recover.Decision
	Failback(ctx context.Context, service string, src recover.Source, reason string) error
}

// Service is what the policy needs of one service of the inventory.
type Service struct {
	AutoFailback bool       // failback: auto
	Primary      netip.Addr // the primary VM's address, for its check
	Standby      string     // the standby VM it fails over to
	Priority     int
	Pinned       bool // pinned: true: never moved off an overloaded standby
}

// Services is the rest of the daemon the policy uses. Safe for concurrent
// use.
type Services interface {
	// Service returns a service of the inventory in force.
	Service(name string) (Service, bool)
	// Check runs the service's own check against addr once.
	Check(ctx context.Context, service string, addr netip.Addr) error
	// Migrate asks the executor to migrate the service to the best spare
	// with source policy, and returns that spare.
	Migrate(ctx context.Context, service, reason string) (to string, err error)
	// SampleSpares samples the spares' agents, which spare ranking uses.
	SampleSpares(ctx context.Context)
}

// Overload is the standbys' overload watch (package capacity). Only the
// policy's loop calls it.
type Overload interface {
	// Sample reads every standby's capacity once.
	Sample(ctx context.Context, now time.Time)
	// Overloaded returns the overloaded standbys, with why.
	Overloaded() map[string]string
	// Shares returns the part of a standby's load (CPU, or memory for the
	// memory trigger) each of its running instances carries, in percent;
	// nil when its agent reports none.
	Shares(standby string) map[string]float64
	// Moved records that service was moved off the overloaded standby:
	// it starts the standby's cool-down and restarts its window.
	Moved(standby, service string)
	// Forget drops what this term measured.
	Forget()
}

// Config is what New needs.
type Config struct {
	Executor Executor
	Services Services
	Overload Overload
	// Interval is the pause between two looks (default 5s).
	Interval time.Duration
	// Clock times the looks, the retry pause and PrimaryHealthySince; it
	// must be the executor's clock, which judges the hold-down by it
	// (default clock.Wall).
	Clock  clock.Clock
	Logger *slog.Logger
}

// Policy applies the move policies of one term. Create it with New and
// call Run once.
type Policy struct {
	cfg  Config
	log  *slog.Logger
	exec Executor

	healthy map[string]time.Time // service -> its primary passes its check since
	tried   map[string]time.Time // service -> last automatic migration sent
}

// New returns the policy of one term.
func New(cfg Config) *Policy {
	if cfg.Interval <= 0 {
		cfg.Interval = defaultMoveInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Wall
	}
	return &Policy{cfg: cfg, log: cfg.Logger.With("component", "controller"), exec: cfg.Executor,
		healthy: map[string]time.Time{}, tried: map[string]time.Time{}}
}

// Run applies the services' move policies (max-on-standby,
// failback: auto, migration.overload) until ctx ends: every
// Config.Interval it checks the primaries of the services that are
// away from them and wait for an automatic failback, samples every standby
// VM's capacity for the overload detectors, asks recover what
// is due, and sends it.
func (p *Policy) Run(ctx context.Context) {
	defer p.cfg.Overload.Forget() // a follower reports no overload, nor stale samples
	// A new leader looks at once: a migrate request in its first interval
	// must not find the VMs unsampled.
	p.tick(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.cfg.Clock.After(p.cfg.Interval):
			p.tick(ctx)
		}
	}
}

// tick is one look at the move policies.
func (p *Policy) tick(ctx context.Context) {
	facts := p.primaryFacts(ctx)
	p.overloadFacts(ctx, facts)
	p.cfg.Services.SampleSpares(ctx) // spare ranking uses these
	for name, d := range p.exec.Due(facts) {
		if ctx.Err() != nil {
			return
		}
		if d.Kind == recover.KindMigrate {
			if last, ok := p.tried[name]; ok && p.cfg.Clock.Now().Sub(last) < autoMigrateRetry {
				continue
			}
			p.tried[name] = p.cfg.Clock.Now()
		}
		log := p.log.With("service", name, "move", d.Kind, "reason", d.Reason)
		tctx, cancel := context.WithTimeout(ctx, time.Second)
		var err error
		switch d.Kind {
		case recover.KindFailback:
			err = p.exec.Failback(tctx, name, recover.FromPolicy, d.Reason)
		case recover.KindMigrate:
			var to string
			to, err = p.cfg.Services.Migrate(tctx, name, d.Reason)
			log = log.With("to", to)
		}
		cancel()
		switch {
		case err == nil:
			log.Info("automatic move started")
			if d.Kind == recover.KindMigrate && facts[name].Overloaded {
				if s, ok := p.cfg.Services.Service(name); ok {
					p.cfg.Overload.Moved(s.Standby, name)
				}
			}
		case errors.Is(err, executor.ErrBusy), errors.Is(err, context.DeadlineExceeded):
			delete(p.tried, name) // not sent: try again at the next look
			log.Info("automatic move waits for a free migration slot")
		default:
			log.Warn("automatic move not started", "err", err)
		}
	}
}

// primaryFacts checks, once, the primary of every service that is on the
// standby or a spare with failback: auto, with the service's own check, and
// returns since when each passes. A failed check forgets the time.
func (p *Policy) primaryFacts(ctx context.Context) map[string]recover.Facts {
	healthy := p.healthy
	facts := map[string]recover.Facts{}
	seen := map[string]bool{}
	for _, rec := range p.exec.Records() {
		svc, ok := p.cfg.Services.Service(rec.Service)
		away := rec.State == recover.OnStandby || rec.State == recover.OnSpare
		if !ok || !away || !svc.AutoFailback || rec.Incident.Open() {
			continue
		}
		seen[rec.Service] = true
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := p.cfg.Services.Check(cctx, rec.Service, svc.Primary)
		cancel()
		if err != nil {
			delete(healthy, rec.Service)
			continue
		}
		if _, ok := healthy[rec.Service]; !ok {
			healthy[rec.Service] = p.cfg.Clock.Now()
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

// overloadFacts samples the standbys and, for each overloaded one, marks
// the one service that should move off it first as Overloaded in facts
// (see overloadPick), with the reason the incident records.
func (p *Policy) overloadFacts(ctx context.Context, facts map[string]recover.Facts) {
	p.cfg.Overload.Sample(ctx, p.cfg.Clock.Now())
	over := p.cfg.Overload.Overloaded()
	if len(over) == 0 {
		return
	}
	recent := func(name string) bool {
		last, ok := p.tried[name]
		return ok && p.cfg.Clock.Now().Sub(last) < autoMigrateRetry
	}
	recs := p.exec.Records()
	svcs := map[string]Service{}
	for _, r := range recs {
		if s, ok := p.cfg.Services.Service(r.Service); ok {
			svcs[r.Service] = s
		}
	}
	for sb, why := range over {
		shares := p.cfg.Overload.Shares(sb)
		name := overloadPick(sb, recs, svcs, shares, recent)
		if name == "" {
			continue
		}
		f := facts[name]
		f.Overloaded = true
		f.OverloadReason = fmt.Sprintf("%s %s; moved %s", sb, why, name)
		if share, ok := shares[name]; ok {
			f.OverloadReason += fmt.Sprintf(" (%.0f %% of it)", share)
		}
		facts[name] = f
	}
}

// overloadPick chooses the service to migrate off the overloaded standby
// sb: among its services that are on the standby with no open incident,
// not pinned and not tried lately, the one with the lowest priority (the
// fair share on the standby already favours higher priorities, and moving
// the least important service first costs the important ones no hold),
// then the one that carries the most of the standby's load (its share:
// its move relieves the standby most), then by name. It returns "" while
// one of sb's services is migrating (one move at a time per standby) or
// when none qualifies.
func overloadPick(sb string, recs []recover.Record, svcs map[string]Service, shares map[string]float64, recent func(string) bool) string {
	var cands []string
	for _, r := range recs {
		s, ok := svcs[r.Service]
		if !ok || s.Standby != sb {
			continue
		}
		if r.Incident.Open() && r.Incident.Kind == recover.KindMigrate {
			return ""
		}
		if r.State == recover.OnStandby && !r.Incident.Open() && !s.Pinned && !recent(r.Service) {
			cands = append(cands, r.Service)
		}
	}
	if len(cands) == 0 {
		return ""
	}
	return slices.MinFunc(cands, func(a, b string) int {
		return cmp.Or(cmp.Compare(svcs[a].Priority, svcs[b].Priority), cmp.Compare(shares[b], shares[a]), cmp.Compare(a, b))
	})
}
