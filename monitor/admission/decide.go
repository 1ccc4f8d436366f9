package admission

import (
	"context"
	"fmt"

	"github.com/understudy/understudy/monitor/capacity/admit"
)

// decision asks standby's agent what runs there and decides, by priority,
// among the services that want a place on it: the failed ones on their way
// to their activate step, the ones waiting for capacity, and extra. The
// caller holds the standby's decision lock.
func (g *Gate) decision(ctx context.Context, standby string, extra []string) (admit.Decision, error) {
	agent, err := g.cfg.Agents.Agent(standby)
	if err != nil {
		return admit.Decision{}, err
	}
	capy, err := agent.Capacity(ctx)
	if err != nil {
		return admit.Decision{}, fmt.Errorf("capacity of standby %q: %w", standby, err)
	}
	list, err := agent.Services(ctx)
	if err != nil {
		return admit.Decision{}, fmt.Errorf("services of standby %q: %w", standby, err)
	}
	services := g.cfg.Services()
	c := admit.Capacity{Slots: capy.SlotsTotal, Memory: capy.MemoryLimit}
	used := map[string]bool{}
	for _, st := range list {
		if st.Running {
			used[st.Spec.Name] = true
			c.UsedSlots++
			c.UsedMemory += st.Spec.Memory
		}
	}
	now := g.cfg.Clock.Now()
	want := map[string]bool{}
	g.mu.Lock()
	for s, sb := range g.inflight {
		if sb == standby && !used[s] {
			used[s] = true
			c.UsedSlots++
			c.UsedMemory += services[s].Memory
		}
	}
	for s, at := range g.pending {
		if now.Sub(at) > g.cfg.PendingTTL {
			delete(g.pending, s)
			continue
		}
		want[s] = true
	}
	g.mu.Unlock()
	for _, s := range g.cfg.Waiting() {
		want[s] = true
	}
	for _, s := range extra {
		want[s] = true
	}
	var cands []admit.Candidate
	for s := range want {
		svc, ok := services[s]
		if !ok || svc.Standby != standby || svc.Warm || used[s] {
			continue
		}
		cands = append(cands, admit.Candidate{Service: s, Priority: svc.Priority, Memory: svc.Memory})
	}
	return admit.Decide(c, cands), nil
}
