package monitor

import (
	"context"
	"testing"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/recover/embedded"
	"github.com/understudy/understudy/standby"
)

// epochAgent is a fake agent that reports the epoch it holds, as
// standby.Client does from GET /v1/health.
type epochAgent struct {
	*fakeAgent
	epoch uint64
}

func (a *epochAgent) Health(context.Context) (standby.Health, error) {
	return standby.Health{Name: "sb", Ready: true, Epoch: a.epoch}, nil
}

// TestNewClusterEpochAboveAgents: a monitor on a new etcd (nothing stored:
// a first start, or an etcd rebuilt from scratch) whose agent holds epoch
// 50,000 from the old cluster leads with an epoch above it, and prepares
// the agent under that epoch; otherwise the agent would refuse every call
// as stale. A second term goes on from there.
func TestNewClusterEpochAboveAgents(t *testing.T) {
	const held = 50_000
	emb, err := embedded.Start(context.Background(), embedded.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emb.Close() })
	agent := &epochAgent{fakeAgent: newFakeAgent(), epoch: held}
	run := func(name string) *harness {
		return start(t, testInventory, func(h *harness) {
			agent.fakeAgent = h.agent
			h.tune = func(o *Options) {
				o.Store, o.Etcd, o.Name, o.LeaseTTL = nil, emb.Client, name, 2e9
				o.Agents = func(inventory.Standby, TLSFiles) (Agent, error) { return agent, nil }
			}
		})
	}
	a := run("mon-a")
	a.eventually("mon-a leads", func() bool { return a.ctrl.roles.leading() != nil })
	first := a.ctrl.roles.leading().epoch
	if first <= held {
		t.Fatalf("a new cluster's first epoch %d, want above the agent's %d", first, held)
	}
	a.eventually("web prepared", func() bool { return a.service("web").Standby.Prepared })
	prepared, _, _ := agent.snapshot()
	if ep := prepared["web"].Epoch; ep != first {
		t.Errorf("web prepared under epoch %d, want the term's %d", ep, first)
	}
	a.stop()

	b := run("mon-b")
	b.eventually("mon-b leads", func() bool { return b.ctrl.roles.leading() != nil })
	if second := b.ctrl.roles.leading().epoch; second <= first {
		t.Errorf("the next term's epoch %d, want above the first's %d", second, first)
	}
}
