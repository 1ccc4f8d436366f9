package monitor

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor/probe"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/executor"
	"github.com/understudy/understudy/recover/store"
)

// TestLeaderlessGapDoesNotLoseFailure: the monitor confirms web-vm down
// while no monitor leads, and nobody leads for 45 s, longer than the 30 s
// a trigger is tried for. When a term then starts, the open finding is
// passed on and an incident opens. Time is synctest's fake clock: the gap
// takes no real time.
func TestLeaderlessGapDoesNotLoseFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inv, err := parseInventory(testInventory)
		if err != nil {
			t.Fatal(err)
		}
		agent, store := newFakeAgent(), store.NewMemory() // web-vm does not answer the agent
		c, err := New(inv, Options{
			Logger: slog.New(slog.DiscardHandler), Store: store,
			DNS:     &fakeDNS{records: map[string][]netip.Addr{"web.lab.test.": {netip.MustParseAddr("10.9.0.11")}}},
			Probers: (&fakeProbes{failing: map[string]bool{}}).probers(),
			Agents:  func(inventory.Standby, TLSFiles) (Agent, error) { return agent, nil },
			Hypervisors: func(context.Context, inventory.Hypervisor) (Hypervisor, error) {
				return &fakeHV{stopped: map[string]bool{}}, nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		// What Run sets up before it leads.
		c.store, c.recoverMetrics = store, executor.NewMetrics(c.reg)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		defer wg.Wait()
		defer cancel()
		wg.Go(func() { c.passOnFindings(ctx) })

		c.handleEvent(ctx, probe.Event{Kind: probe.VMDown, Services: []string{"web"}, VMs: []string{"web-vm"}, Reason: "web-vm does not answer", At: time.Now()}, &wg)
		time.Sleep(45 * time.Second)
		synctest.Wait()
		if inc := incidentOf(t, store, "web"); inc != nil {
			t.Fatalf("an incident without a leader: %+v", inc)
		}

		wg.Go(func() {
			if err := c.lead(ctx, store, nil); err != nil {
				t.Errorf("lead: %v", err)
			}
		})
		var inc *recover.Incident
		for range 600 { // up to a minute of fake time
			if inc = incidentOf(t, store, "web"); inc != nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if inc == nil {
			t.Fatal("no incident for web once a term started after the 45 s gap")
		}
		if len(inc.Triggers) == 0 || inc.Triggers[0].Source != recover.FromMonitor || !strings.Contains(inc.Triggers[0].Reason, "web-vm does not answer") {
			t.Errorf("the incident's triggers %+v, want the monitor's finding", inc.Triggers)
		}
	})
}

// incidentOf returns the stored incident of svc, nil when there is none.
func incidentOf(t *testing.T, s store.Store, svc string) *recover.Incident {
	t.Helper()
	recs, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Service == svc && r.Incident != nil {
			return r.Incident
		}
	}
	return nil
}

// TestFollowerPassesProxyFindingToTokenLeader: on a plain-HTTP API with
// monitor.api-token-file, a proxy finding the follower kept (a suspect
// report that came while no monitor led) reaches the leader once one is
// observed: the follower's call carries the bearer token, so the leader
// takes it (no 401) and an incident opens from the proxy's report.
func TestFollowerPassesProxyFindingToTokenLeader(t *testing.T) {
	a, b := startPair(t, false)
	a.eventually("web prepared", func() bool { return a.service("web").Standby.Prepared })
	b.ctrl.findings.Add("web", recover.FromProxy, "proxy suspect while no monitor led", time.Now())
	_, leader, _ := b.ctrl.roles.now()
	b.ctrl.passOn(t.Context(), nil, leader)
	if names, _ := b.ctrl.findings.List(); len(names) != 0 {
		t.Errorf("open findings at the follower after passing them on: %v, want none", names)
	}
	a.eventually("an incident for web at the leader", func() bool { return a.service("web").LastIncident != nil })
	if inc := a.service("web").LastIncident; inc.Source != string(recover.FromProxy) || !strings.Contains(inc.Reason, "proxy suspect while no monitor led") {
		t.Errorf("web's incident opened by %s: %q; want the proxy finding", inc.Source, inc.Reason)
	}
}
