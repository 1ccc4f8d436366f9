package ha

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/playbooks"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/executor"
	"github.com/understudy/understudy/recover/store"
)

var (
	primary = netip.MustParseAddr("10.200.0.11")
	standby = netip.MustParseAddr("10.200.1.100")
)

// monitor is one monitor's leader side: a Leadership, its guarded store
// and an executor running under the leadership's context.
type monitor struct {
	lead  *Leadership
	store *Store
	exec  *executor.Executor
	stop  context.CancelFunc
}

func lead(t *testing.T, base *store.Etcd, l *Leadership, deps executor.Deps, svc recover.Config, saved chan<- recover.Record) *monitor {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st := NewStore(base, l)
	epoch, err := st.NextEpoch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lctx, stop := l.Context(context.Background())
	ex := executor.New(executor.Config{
		Store: st, Deps: deps, Services: map[string]recover.Config{"web": svc}, Epoch: epoch,
		HealthInterval: time.Millisecond, SaveRetry: 50 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler), AlertURL: "http://alerts.invalid/",
		OnSave: func(r recover.Record) { saved <- r },
	})
	if err := ex.Start(lctx); err != nil {
		t.Fatal(err)
	}
	m := &monitor{lead: l, store: st, exec: ex, stop: stop}
	t.Cleanup(func() { stop(); ex.Wait() })
	return m
}

// TestNewLeaderCompletesIncidentOnce kills the leading monitor in the
// middle of a failover (while the agent activates, and right after the DNS
// server applied the swap) and checks that the next leader resumes the
// incident from etcd and completes it exactly once: one DNS change, one
// notification, one closed incident, and the dead leader's late write
// refused.
func TestNewLeaderCompletesIncidentOnce(t *testing.T) {
	pb, err := playbooks.Default("warm")
	if err != nil {
		t.Fatal(err)
	}
	svc := recover.Config{Service: recover.Service{
		Name: "web", FQDN: "web.lab.test.", VM: "web-vm", Hypervisor: "host-a", Instance: "web-vm",
		Address: primary, Standby: "standby-1", Mode: "warm", Confirm: "agent", Fence: "hypervisor",
	}, Playbook: pb}
	for _, kill := range []string{"activate", "dns-replace"} {
		t.Run(kill, func(t *testing.T) {
			c := startCluster(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			a, acli := c.elector(0, 2*time.Second)
			b, bcli := c.elector(1, 2*time.Second)
			la, err := a.Campaign(ctx)
			if err != nil {
				t.Fatal(err)
			}
			agent := &fakeAgent{addr: standby, hang: uint64(la.Rev), started: make(chan uint64, 8)}
			if kill != "activate" {
				agent.hang = 0
			}
			dns := &fakeDNS{addrs: []netip.Addr{primary}, hang: kill == "dns-replace", started: make(chan struct{}, 1)}
			world := &fakeWorld{}
			deps := executor.Deps{Confirmer: agent, Activator: agent, Fencer: world, Health: world, DNS: dns, Notifier: world, Execer: world}
			saved := make(chan recover.Record, 64)

			ma := lead(t, c.store(acli), la, deps, svc, saved)
			if err := ma.exec.Trigger(ctx, "web", recover.FromMonitor, "vm down"); err != nil {
				t.Fatal(err)
			}
			if kill == "activate" {
				<-agent.started
			} else {
				<-dns.started
			}
			wins := make(chan won, 1)
			campaign(ctx, t, 1, b, wins)
			acli.Close() // the leading monitor dies mid-step
			waitDone(t, la, 15*time.Second)
			ma.stop()
			ma.exec.Wait()
			last := ma.exec.Records()[0]

			w := <-wins
			if w.err != nil {
				t.Fatal(w.err)
			}
			mb := lead(t, c.store(bcli), w.lead, deps, svc, saved)
			var rec recover.Record
			for rec.Incident == nil || rec.Incident.Open() {
				select {
				case rec = <-saved:
				case <-ctx.Done():
					t.Fatalf("incident not closed under the new leader; last record %+v", rec)
				}
			}
			if rec.State != recover.OnStandby || rec.Incident.Result != recover.ResultRecovered || rec.Placement.Address != standby {
				t.Fatalf("final record: state %s result %q placement %+v", rec.State, rec.Incident.Result, rec.Placement)
			}
			if rec.Placement.Epoch != mb.lead.Epoch() {
				t.Errorf("placement epoch %d, want the new leader's %d", rec.Placement.Epoch, mb.lead.Epoch())
			}
			got, applied := dns.state()
			if len(got) != 1 || got[0] != standby || applied != 1 {
				t.Errorf("DNS holds %v after %d changes, want %s after 1", got, applied, standby)
			}
			activator := la // the activation finished before the DNS step
			if kill == "activate" {
				activator = mb.lead // it hung under the dead leader
			}
			if done := agent.activated(); len(done) != 1 || done[0] != activator.Epoch() {
				t.Errorf("activations that took effect: epochs %v, want [%d]", done, activator.Epoch())
			}
			if n := countPrefix(world.sent(), "incident:"); n != 1 {
				t.Errorf("notify step ran %d times (%v), want 1", n, world.sent())
			}
			hist, err := mb.store.History(ctx, "web")
			if err != nil {
				t.Fatal(err)
			}
			if len(hist) != 1 {
				t.Errorf("%d closed incidents in etcd, want 1", len(hist))
			}
			// The dead leader's executor comes back with a late write.
			if err := ma.store.Save(ctx, last); !errors.Is(err, ErrNotLeader) {
				t.Errorf("the deposed leader's late Save: %v, want ErrNotLeader", err)
			}
		})
	}
}

func countPrefix(ss []string, p string) int {
	n := 0
	for _, s := range ss {
		if strings.HasPrefix(s, p) {
			n++
		}
	}
	return n
}
