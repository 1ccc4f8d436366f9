package admission

import (
	"context"
	"slices"
)

// Run re-arms the services waiting for capacity, in priority order, each
// time capacity may have freed (Freed) and every Config.Every, until ctx
// ends. Only the leader runs it (it sends triggers).
func (g *Gate) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-g.freed:
		case <-g.cfg.Clock.After(g.cfg.Every):
		}
		g.look(ctx)
	}
}

// look re-arms, standby by standby, the waiting services the standby would
// now admit.
func (g *Gate) look(ctx context.Context) {
	waiting := g.cfg.Waiting()
	if len(waiting) == 0 {
		return
	}
	services := g.cfg.Services()
	var standbys []string
	for _, s := range waiting {
		if svc, ok := services[s]; ok && !slices.Contains(standbys, svc.Standby) {
			standbys = append(standbys, svc.Standby)
		}
	}
	slices.Sort(standbys)
	for _, sb := range standbys {
		for _, s := range g.admittable(ctx, sb, waiting) {
			reason := "capacity freed on standby " + sb
			if err := g.cfg.Rearm(ctx, s, reason); err != nil {
				g.Forget(s)
				g.cfg.Log.Warn("admission: re-arm a waiting service", "service", s, "standby", sb, "err", err)
				continue
			}
			g.cfg.Log.Info("admission: capacity freed, waiting service re-armed", "service", s, "standby", sb)
		}
	}
}

// admittable returns the waiting services standby would take now, in
// priority order, and registers them so that the next decisions count them.
func (g *Gate) admittable(ctx context.Context, standby string, waiting []string) []string {
	mu := g.lock(standby)
	mu.Lock()
	defer mu.Unlock()
	d, err := g.decision(ctx, standby, nil)
	if err != nil {
		g.cfg.Log.Warn("admission: standby capacity unknown", "standby", standby, "err", err)
		return nil
	}
	var out []string
	for _, s := range d.Admitted {
		if slices.Contains(waiting, s) {
			out = append(out, s)
		}
	}
	g.Register(out...)
	return out
}
