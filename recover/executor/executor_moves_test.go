package executor

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/understudy/understudy/playbooks"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/store"
)

var spareAddr = netip.MustParseAddr("10.200.2.100")

// moveWorld is an executor over fakes whose services already run on the
// standby (a failover happened before).
type moveWorld struct {
	t      *testing.T
	agent  *fakeAgent
	health *fakeHealth
	dns    *fakeDNS
	verify *fakeVerifier // no servers unless a test sets some
	proxy  *fakeProxy
	mig    *fakeMigrator
	deact  *fakeDeactivator
	store  *store.Memory
	saves  chan recover.Record
	exec   *Executor
	cancel context.CancelFunc

	services      map[string]recover.Config
	maxMigrations int
	reg           *prometheus.Registry
}

// start runs a fresh executor (a monitor start) over the world's store.
func (w *moveWorld) start() {
	w.t.Helper()
	w.reg = prometheus.NewRegistry() // a new monitor process
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	var holder Holder // the hook is optional: nil proxy, nil interface
	if w.proxy != nil {
		holder = w.proxy
	}
	w.exec = New(Config{
		Store: w.store,
		Deps: Deps{Activator: w.agent, Confirmer: w.agent, Health: w.health, DNS: w.dns, DNSVerify: w.verify, Notifier: &fakeNotifier{},
			Holder: holder, Migrator: w.mig, Deactivator: w.deact},
		Services: w.services, Epoch: 3, MaxMigrations: w.maxMigrations, HealthInterval: time.Millisecond,
		Logger: slog.New(slog.DiscardHandler), OnSave: func(r recover.Record) { w.saves <- r },
		Metrics: NewMetrics(w.reg),
	})
	if err := w.exec.Start(ctx); err != nil {
		w.t.Fatal(err)
	}
	exec := w.exec
	w.t.Cleanup(func() { cancel(); exec.Wait() })
}

// stop kills the executor (a monitor killed) and waits for its goroutines.
func (w *moveWorld) stop() {
	w.cancel()
	w.exec.Wait()
}

func newMoveWorld(t *testing.T, names []string, maxMigrations int, mutate func(*recover.Config)) *moveWorld {
	t.Helper()
	w := &moveWorld{
		t: t, agent: &fakeAgent{address: standbyAddr}, health: &fakeHealth{},
		dns:   &fakeDNS{records: map[string][]netip.Addr{}},
		proxy: &fakeProxy{}, mig: &fakeMigrator{addr: spareAddr}, deact: &fakeDeactivator{},
		store: store.NewMemory(), saves: make(chan recover.Record, 1024),
	}
	w.verify = &fakeVerifier{primary: w.dns}
	services := map[string]recover.Config{}
	for _, n := range names {
		cfg := recover.Config{Service: recover.Service{Name: n, FQDN: n + ".lab.test.", VM: n + "-vm", Address: primaryAddr,
			Standby: "standby-1", Mode: "warm", Confirm: "agent", Fence: "none"}}
		if mutate != nil {
			mutate(&cfg)
		}
		services[n] = cfg
		w.dns.records[cfg.Service.FQDN] = []netip.Addr{standbyAddr}
		rec := recover.Record{Service: n, State: recover.OnStandby, Seq: 1, Placement: recover.Placement{Service: n, Where: recover.AtStandby,
			Host: "standby-1", Address: standbyAddr, Since: time.Now().Add(-time.Hour), Epoch: 3}}
		if err := w.store.Save(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
	}
	w.services, w.maxMigrations = services, maxMigrations
	w.start()
	return w
}

func (w *moveWorld) until(what string, ok func(recover.Record) bool) recover.Record {
	w.t.Helper()
	return untilSaved(w.t, w.saves, what, ok)
}

// settled waits until service's last saved record closed a move with
// result: it wakes on each save (the executor's await), and fails the test
// after a generous bound rather than hang.
func (w *moveWorld) settled(service, result string) recover.Record {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // a bound for a failure, not a wait
	defer cancel()
	var got recover.Record
	err := w.exec.await(ctx, service, func(r recover.Record) (bool, error) {
		got = r
		return closedAs(service, result)(r), nil
	})
	if err != nil {
		w.t.Fatalf("%s: no move closed %s (last record %s): %v", service, result, got.State, err)
	}
	return got
}

// copyStarted waits until a copy starts (the migrator's started channel),
// failing the test after a generous bound rather than hang.
func (w *moveWorld) copyStarted() string {
	w.t.Helper()
	select {
	case svc := <-w.mig.started:
		return svc
	case <-time.After(10 * time.Second): // a bound for a failure, not a wait
		w.t.Fatal("no copy started")
		return ""
	}
}

func closedAs(service, result string) func(recover.Record) bool {
	return func(r recover.Record) bool {
		return r.Service == service && r.Incident != nil && !r.Incident.Open() && r.Incident.Kind != recover.KindFailover && r.Incident.Result == result
	}
}

func TestExecutorMigrateThenFailBack(t *testing.T) {
	w := newMoveWorld(t, []string{"web"}, 0, nil)
	ctx := context.Background()
	if err := w.exec.Migrate(ctx, "web", "spare-1", recover.FromCLI, "operator"); err != nil {
		t.Fatal(err)
	}
	r := w.until("migrated", closedAs("web", recover.ResultMigrated))
	if r.State != recover.OnSpare || r.Placement.Host != "spare-1" || r.Placement.Address != spareAddr {
		t.Fatalf("after migrate: %s at %s %s, want on-spare at spare-1 %s", r.State, r.Placement.Host, r.Placement.Address, spareAddr)
	}
	if got := w.dns.get("web.lab.test."); !slices.Equal(got, []netip.Addr{spareAddr}) {
		t.Errorf("dns after migrate = %v, want %s", got, spareAddr)
	}
	if !w.mig.has("web@spare-1") || w.proxy.isHeld("web") {
		t.Errorf("copy on spare-1 %v, proxy still held %v; want a copy and released", w.mig.has("web@spare-1"), w.proxy.isHeld("web"))
	}
	if got := w.deact.deactivated(); !slices.Equal(got, []string{"web"}) || w.deact.epochs[0] != 3 {
		t.Errorf("standby slot reset %v epochs %v, want [web] with epoch 3", got, w.deact.epochs)
	}

	if err := w.exec.Failback(ctx, "web", recover.FromCLI, "primary repaired"); err != nil {
		t.Fatal(err)
	}
	r = w.until("failed back", closedAs("web", recover.ResultFailedBack))
	if r.State != recover.Primary || r.Placement.Where != recover.AtPrimary || r.Placement.Address != primaryAddr {
		t.Fatalf("after failback: %s at %s %s", r.State, r.Placement.Where, r.Placement.Address)
	}
	if got := w.dns.get("web.lab.test."); !slices.Equal(got, []netip.Addr{primaryAddr}) {
		t.Errorf("dns after failback = %v, want %s", got, primaryAddr)
	}
	if w.mig.has("web@spare-1") {
		t.Error("the spare's copy survived the failback")
	}
	m := &world{t: t, reg: w.reg}
	if m.metric("understudy_recover_move_seconds", recover.KindMigrate) != 1 || m.metric("understudy_recover_move_seconds", recover.KindFailback) != 1 ||
		m.metric("understudy_recover_incidents_total", recover.ResultMigrated) != 1 {
		t.Errorf("move metrics: migrate %v failback %v migrated %v; want 1 each",
			m.metric("understudy_recover_move_seconds", recover.KindMigrate), m.metric("understudy_recover_move_seconds", recover.KindFailback),
			m.metric("understudy_recover_incidents_total", recover.ResultMigrated))
	}
}

func TestExecutorMigrateCopyFailsStaysOnStandby(t *testing.T) {
	w := newMoveWorld(t, []string{"web"}, 0, nil)
	w.mig.fail = errStorageFull
	if err := w.exec.Migrate(context.Background(), "web", "spare-1", recover.FromPolicy, "max-on-standby"); err != nil {
		t.Fatal(err)
	}
	r := w.until("aborted", closedAs("web", recover.ResultAborted))
	if r.State != recover.OnStandby || r.Placement.Address != standbyAddr {
		t.Fatalf("after abort: %s at %s, want on-standby at %s", r.State, r.Placement.Address, standbyAddr)
	}
	if r.Incident.Aborted == "" || r.Incident.LastError == "" {
		t.Errorf("the incident does not say why: aborted %q last error %q", r.Incident.Aborted, r.Incident.LastError)
	}
	if got := w.dns.get("web.lab.test."); !slices.Equal(got, []netip.Addr{standbyAddr}) {
		t.Errorf("dns = %v, want unchanged %s", got, standbyAddr)
	}
	if w.mig.has("web@spare-1") {
		t.Error("the partial copy on spare-1 was not deleted")
	}
	if w.agent.calls != 1 || w.proxy.isHeld("web") {
		t.Errorf("standby re-activations %d (want 1), proxy held %v (want released)", w.agent.calls, w.proxy.isHeld("web"))
	}
}

func TestExecutorFailbackRefusedWhilePrimaryUnhealthy(t *testing.T) {
	w := newMoveWorld(t, []string{"web"}, 0, func(c *recover.Config) {
		pb := recover.DefaultFailbackPlaybook()
		pb.Steps[0].Timeout = 50 * time.Millisecond
		c.FailbackPlaybook = pb
	})
	w.health.failures = 1 << 30
	if err := w.exec.Failback(context.Background(), "web", recover.FromPolicy, "hold-down passed"); err != nil {
		t.Fatal(err)
	}
	r := w.until("aborted", closedAs("web", recover.ResultAborted))
	if r.State != recover.OnStandby || r.Incident.Steps[0].Kind != playbooks.WaitHealthy || r.Incident.Steps[0].Status != recover.StatusFailed {
		t.Fatalf("state %s, first step %s %s; want on-standby after a failed wait-healthy", r.State, r.Incident.Steps[0].Kind, r.Incident.Steps[0].Status)
	}
	if got := w.dns.get("web.lab.test."); !slices.Equal(got, []netip.Addr{standbyAddr}) {
		t.Errorf("dns = %v, want unchanged %s", got, standbyAddr)
	}
	if w.proxy.holds != 0 || len(w.deact.deactivated()) != 0 {
		t.Errorf("refused failback held the proxy %d times and reset the standby %v", w.proxy.holds, w.deact.deactivated())
	}
}

// TestExecutorMigrationLimit checks that no more than MaxMigrations copies
// run at once: a second migration waits for a slot, and gives up with
// ErrBusy when its context ends first.
func TestExecutorMigrationLimit(t *testing.T) {
	for _, limit := range []int{1, 2} {
		names := []string{"a", "b", "c"}
		w := newMoveWorld(t, names, limit, nil)
		w.mig.block = make(chan struct{})
		w.mig.started = make(chan string, len(names))
		ctx := context.Background()
		for _, n := range names[:limit] {
			if err := w.exec.Migrate(ctx, n, "spare-1", recover.FromCLI, "operator"); err != nil {
				t.Fatalf("limit %d: migrate %s: %v", limit, n, err)
			}
			w.copyStarted()
		}
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		err := w.exec.Migrate(short, "c", "spare-1", recover.FromCLI, "operator")
		cancel()
		if !errors.Is(err, ErrBusy) {
			t.Fatalf("limit %d: migration %d: err %v, want ErrBusy", limit, limit+1, err)
		}
		// Joining a running migration takes no slot.
		short, cancel = context.WithTimeout(ctx, time.Second)
		defer cancel()
		if err := w.exec.Migrate(short, names[0], "spare-1", recover.FromMonitor, "overload"); err != nil {
			t.Errorf("limit %d: joining %s: %v", limit, names[0], err)
		}
		close(w.mig.block)
		for _, n := range names[:limit] {
			w.settled(n, recover.ResultMigrated)
		}
		if err := w.exec.Migrate(ctx, "c", "spare-1", recover.FromCLI, "operator"); err != nil {
			t.Fatalf("limit %d: migrate c after the others: %v", limit, err)
		}
		w.settled("c", recover.ResultMigrated)
		if got := w.mig.peak(); got != limit {
			t.Errorf("limit %d: %d copies ran at once", limit, got)
		}
	}
}

func TestExecutorMigrateRefusedFreesSlot(t *testing.T) {
	w := newMoveWorld(t, []string{"web"}, 1, nil)
	ctx := context.Background()
	if err := w.exec.Failback(ctx, "web", recover.FromCLI, "x"); err != nil {
		t.Fatal(err)
	}
	w.until("failed back", closedAs("web", recover.ResultFailedBack))
	for range 2 { // refused twice: a leaked slot would make the second wait
		short, cancel := context.WithTimeout(ctx, time.Second)
		err := w.exec.Migrate(short, "web", "spare-1", recover.FromCLI, "operator")
		cancel()
		if !errors.Is(err, recover.ErrIllegalTransition) {
			t.Fatalf("migrate from primary: err %v, want ErrIllegalTransition", err)
		}
	}
}

// TestExecutorMigrationResumesAfterKill kills the monitor while the copy
// runs and starts a new one on the same store: the migration completes,
// the copy runs again (the migrator returns the running copy), and no other
// step runs twice. The resumed migration holds the only migration slot.
func TestExecutorMigrationResumesAfterKill(t *testing.T) {
	w := newMoveWorld(t, []string{"web", "api"}, 1, nil)
	w.mig.block = make(chan struct{})
	w.mig.started = make(chan string, 4)
	if err := w.exec.Migrate(context.Background(), "web", "spare-1", recover.FromCLI, "operator"); err != nil {
		t.Fatal(err)
	}
	w.copyStarted()
	w.stop() // killed mid-copy

	resumed := make(chan struct{})
	w.mig.mu.Lock()
	w.mig.block = resumed
	w.mig.mu.Unlock()
	w.start()
	w.copyStarted() // the copy runs again
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := w.exec.Migrate(short, "api", "spare-1", recover.FromCLI, "operator"); !errors.Is(err, ErrBusy) {
		t.Errorf("a second migration during the resumed one: err %v, want ErrBusy", err)
	}
	close(resumed)
	r := w.settled("web", recover.ResultMigrated)
	if r.State != recover.OnSpare || r.Incident.Steps[1].Attempt != 1 || w.mig.copyCalls() != 2 {
		t.Fatalf("state %s, copy attempt %d, copies %d; want on-spare after one attempt run twice", r.State, r.Incident.Steps[1].Attempt, w.mig.copyCalls())
	}
	if w.proxy.holds != 1 || w.proxy.releases != 1 || w.dns.replaces != 1 || len(w.deact.deactivated()) != 1 {
		t.Errorf("holds %d releases %d DNS replaces %d resets %v; want 1 each", w.proxy.holds, w.proxy.releases, w.dns.replaces, w.deact.deactivated())
	}
	if err := w.exec.Migrate(context.Background(), "api", "spare-1", recover.FromCLI, "operator"); err != nil {
		t.Errorf("migrate api once web is done: %v", err)
	}
	w.settled("api", recover.ResultMigrated)
}

// heldAt is a placement change as the proxies see it.
type heldAt struct {
	addr netip.Addr
	held bool
}

// TestExecutorHoldTravelsWithThePlacement checks that a migration holds
// the service through its placement, with or without a Holder hook: the
// held placement is persisted before the copy stops the container, the DNS
// flip keeps the hold at the new address, and the release (or the undo of
// an aborted move) clears it.
func TestExecutorHoldTravelsWithThePlacement(t *testing.T) {
	tests := []struct {
		name   string
		hook   bool
		fail   error
		result string
		want   []heldAt
	}{
		{"hook, migrated", true, nil, recover.ResultMigrated, []heldAt{{standbyAddr, true}, {spareAddr, true}, {spareAddr, false}}},
		{"no hook, migrated", false, nil, recover.ResultMigrated, []heldAt{{standbyAddr, true}, {spareAddr, true}, {spareAddr, false}}},
		{"no hook, copy fails", false, errStorageFull, recover.ResultAborted, []heldAt{{standbyAddr, true}, {standbyAddr, false}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newMoveWorld(t, []string{"web"}, 0, nil)
			if !tc.hook {
				w.stop()
				w.proxy = nil
				w.start()
			}
			started, block := make(chan string, 1), make(chan struct{})
			w.mig.mu.Lock()
			w.mig.started, w.mig.block, w.mig.fail = started, block, tc.fail
			w.mig.mu.Unlock()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, changes, err := w.store.WatchPlacements(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.exec.Migrate(ctx, "web", "spare-1", recover.FromCLI, "operator"); err != nil {
				t.Fatal(err)
			}
			<-started
			recs, err := w.store.Load(ctx)
			if err != nil || len(recs) != 1 || !recs[0].Placement.Held {
				t.Fatalf("while the copy runs the stored placement is %+v (%v), want held", recs, err)
			}
			close(block) // the copy ends once the store was read
			r := w.until(tc.result, closedAs("web", tc.result))
			if r.Placement.Held {
				t.Errorf("closed %s with the placement still held", tc.result)
			}
			var got []heldAt
			for len(changes) > 0 {
				p := <-changes
				got = append(got, heldAt{p.Address, p.Held})
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("placement changes %v, want %v", got, tc.want)
			}
			if tc.hook && (w.proxy.holds != 1 || w.proxy.releases != 1) {
				t.Errorf("hook: %d holds %d releases, want 1 each", w.proxy.holds, w.proxy.releases)
			}
		})
	}
}

// TestExecutorCopyNoteSaysHow: the copy step's note in the incident keeps
// what a NotedMigrator says of the copy (monitor's migration.live: live, or
// stop-copy-start and why).
func TestExecutorCopyNoteSaysHow(t *testing.T) {
	w := newMoveWorld(t, []string{"web"}, 0, nil)
	w.mig.how = "stop-copy-start (the live copy failed: criu dump failed)"
	if err := w.exec.Migrate(context.Background(), "web", "spare-1", recover.FromCLI, "operator"); err != nil {
		t.Fatal(err)
	}
	r := w.until("migrated", closedAs("web", recover.ResultMigrated))
	for _, s := range r.Incident.Steps {
		if s.Kind == recover.StepCopy {
			if want := "standby-1 -> spare-1 at " + spareAddr.String() + ": " + w.mig.how; s.Note != want {
				t.Errorf("copy step note %q, want %q", s.Note, want)
			}
			return
		}
	}
	t.Fatalf("no copy step in %+v", r.Incident.Steps)
}
