package executor

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/understudy/understudy/playbooks"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/embedded"
	"github.com/understudy/understudy/recover/store"
)

// t0 is the tests' origin of time.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

var (
	primaryAddr = netip.MustParseAddr("10.200.0.11")
	standbyAddr = netip.MustParseAddr("10.200.1.100")
)

// world is an executor over fakes and a MemStore.
type world struct {
	t       *testing.T
	agent   *fakeAgent
	fencer  *fakeFencer
	health  *fakeHealth
	dns     *fakeDNS
	verify  *fakeVerifier // no servers unless a test sets some
	notes   *fakeNotifier
	execer  *fakeExecer
	deact   *fakeDeactivator
	store   store.Store
	reg     *prometheus.Registry
	saves   chan recover.Record
	exec    *Executor
	cancel  context.CancelFunc
	service recover.Config
	epoch   uint64
	// tune, when set before start, changes the executor's configuration.
	tune func(*Config)
}

func newWorld(t *testing.T, mutate func(*recover.Config)) *world {
	t.Helper()
	return newWorldWith(t, mutate, nil)
}

// newWorldWith is newWorld with setup run on the world before the
// executor starts (to replace its store or tune the executor).
func newWorldWith(t *testing.T, mutate func(*recover.Config), setup func(*world)) *world {
	t.Helper()
	pb, err := playbooks.Default("warm")
	if err != nil {
		t.Fatal(err)
	}
	cfg := recover.Config{Service: recover.Service{
		Name: "web", FQDN: "web.lab.test.", VM: "web-vm", Hypervisor: "host-a", Instance: "web-vm",
		Address: primaryAddr, Standby: "standby-1", Mode: "warm", Confirm: "agent", Fence: "hypervisor",
	}, Playbook: pb}
	if mutate != nil {
		mutate(&cfg)
	}
	w := &world{
		t: t, agent: &fakeAgent{address: standbyAddr}, fencer: &fakeFencer{}, health: &fakeHealth{},
		dns:   &fakeDNS{records: map[string][]netip.Addr{"web.lab.test.": {primaryAddr}}},
		notes: &fakeNotifier{}, execer: &fakeExecer{}, deact: &fakeDeactivator{}, store: store.NewMemory(), service: cfg, epoch: 3,
	}
	if setup != nil {
		setup(w)
	}
	w.verify = &fakeVerifier{primary: w.dns}
	w.start()
	return w
}

// start runs a fresh executor (a monitor start) over the world's store.
func (w *world) start() {
	w.t.Helper()
	w.reg = prometheus.NewRegistry()
	w.saves = make(chan recover.Record, 4096)
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	cfg := Config{
		Store: w.store,
		Deps: Deps{Confirmer: w.agent, Activator: w.agent, Fencer: w.fencer, Health: w.health,
			DNS: w.dns, DNSVerify: w.verify, Notifier: w.notes, Execer: w.execer, Deactivator: w.deact},
		Services:       map[string]recover.Config{"web": w.service},
		Epoch:          w.epoch,
		Metrics:        NewMetrics(w.reg),
		AlertURL:       "http://alerts.invalid/hook",
		HealthInterval: time.Millisecond,
		Logger:         slog.New(slog.DiscardHandler),
		OnSave:         func(r recover.Record) { w.saves <- r },
	}
	if w.tune != nil {
		w.tune(&cfg)
	}
	w.exec = New(cfg)
	if err := w.exec.Start(ctx); err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(w.stop)
}

// stop kills the executor (a monitor killed) and waits for its goroutines.
func (w *world) stop() {
	w.cancel()
	w.exec.Wait()
}

// until waits for a saved record satisfying ok.
func (w *world) until(what string, ok func(recover.Record) bool) recover.Record {
	w.t.Helper()
	return untilSaved(w.t, w.saves, what, ok)
}

// untilSaved waits up to 10 s for a record on saves that satisfies ok, and
// fails the test without one.
func untilSaved(t testing.TB, saves <-chan recover.Record, what string, ok func(recover.Record) bool) recover.Record {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case r := <-saves:
			if ok(r) {
				return r
			}
		case <-timeout:
			t.Fatalf("no record %s", what)
		}
	}
}

func closed(r recover.Record) bool { return r.Incident != nil && !r.Incident.Open() }

func TestExecutorWarmFailover(t *testing.T) {
	w := newWorld(t, nil)
	if err := w.exec.Trigger(context.Background(), "web", recover.FromMonitor, "3 probes failed"); err != nil {
		t.Fatal(err)
	}
	r := w.until("closed", closed)
	if r.State != recover.OnStandby || r.Incident.Result != recover.ResultRecovered {
		t.Fatalf("state %s result %q, want on-standby recovered (last error %q)", r.State, r.Incident.Result, r.Incident.LastError)
	}
	if got := w.dns.get("web.lab.test."); !slices.Equal(got, []netip.Addr{standbyAddr}) {
		t.Errorf("DNS holds %v, want %s", got, standbyAddr)
	}
	if r.Placement.Where != recover.AtStandby || r.Placement.Address != standbyAddr || r.Placement.Epoch != 3 {
		t.Errorf("placement %+v", r.Placement)
	}
	if !slices.Equal(w.agent.epochs, []uint64{3}) || !slices.Equal(w.fencer.stopped, []string{"host-a/web-vm"}) {
		t.Errorf("activations %v fences %v, want one each", w.agent.epochs, w.fencer.stopped)
	}
	notes := w.notes.events()
	if len(notes) != 1 || notes[0].Event != "incident" || notes[0].Incident == nil || notes[0].Incident.ID != "web-1" {
		t.Errorf("notifications %+v, want one incident notification", notes)
	}
	for _, p := range []recover.Phase{"detected", "confirmed", "fenced", "activating", "activated", "healthy", "dns-flipped", "on-standby"} {
		if _, ok := r.Incident.Phase(p); !ok {
			t.Errorf("phase %s not recorded", p)
		}
	}
	if n := w.metric("understudy_recover_incidents_total", "recovered"); n != 1 {
		t.Errorf("incidents_total{recovered} = %v", n)
	}
	if n := w.metric("understudy_recover_failovers_total", "web"); n != 1 {
		t.Errorf("failovers_total{service=web} = %v, want 1", n)
	}
	if n := w.metric("understudy_recover_recovery_seconds", ""); n != 1 {
		t.Errorf("recovery_seconds count = %v, want 1", n)
	}
	for _, k := range playbooks.Kinds[:6] {
		if n := w.metric("understudy_recover_phase_seconds", string(k)); n != 1 {
			t.Errorf("phase_seconds{%s} count = %v, want 1", k, n)
		}
	}
	// On the standby, a new trigger is refused.
	if err := w.exec.Trigger(context.Background(), "web", recover.FromMonitor, "again"); !errors.Is(err, recover.ErrIllegalTransition) {
		t.Errorf("trigger on standby: %v, want ErrIllegalTransition", err)
	}
	if err := w.exec.Trigger(context.Background(), "db", recover.FromCLI, "x"); !errors.Is(err, ErrUnknownService) {
		t.Errorf("trigger unknown service: %v, want ErrUnknownService", err)
	}
}

func TestExecutorConfirmDisagrees(t *testing.T) {
	w := newWorld(t, nil)
	w.agent.alive = true
	if err := w.exec.Trigger(context.Background(), "web", recover.FromProxy, "no ICMP reply"); err != nil {
		t.Fatal(err)
	}
	r := w.until("closed", closed)
	if r.State != recover.Primary || r.Incident.Result != recover.ResultDisagreement || !strings.Contains(r.Incident.Disagreed, "answers") {
		t.Fatalf("state %s result %q disagreed %q", r.State, r.Incident.Result, r.Incident.Disagreed)
	}
	if w.agent.calls != 0 || w.dns.replaces != 0 {
		t.Errorf("activations %d, DNS replaces %d; want none", w.agent.calls, w.dns.replaces)
	}
}

func TestExecutorActivateRetries(t *testing.T) {
	w := newWorld(t, nil)
	w.agent.failFirst = 2
	w.health.failures = 3
	if err := w.exec.Trigger(context.Background(), "web", recover.FromCLI, "operator"); err != nil {
		t.Fatal(err)
	}
	r := w.until("closed", closed)
	if r.State != recover.OnStandby {
		t.Fatalf("state %s, last error %q", r.State, r.Incident.LastError)
	}
	act := r.Incident.Steps[r.Incident.Playbook.Index(playbooks.Activate)]
	if act.Attempt != 3 || w.agent.calls != 3 {
		t.Errorf("activate attempts %d, calls %d; want 3", act.Attempt, w.agent.calls)
	}
	if r.Incident.Steps[0].Status != recover.StatusSkipped || r.Incident.Steps[0].Note != "manual failover" {
		t.Errorf("confirm step %+v, want skipped for a manual failover", r.Incident.Steps[0])
	}
}

func TestExecutorFenceRequiredStuckAlerts(t *testing.T) {
	w := newWorld(t, func(c *recover.Config) { c.Service.FenceRequired = true })
	w.fencer.err = errors.New("hypervisor unreachable")
	if err := w.exec.Trigger(context.Background(), "web", recover.FromMonitor, "vm down"); err != nil {
		t.Fatal(err)
	}
	r := w.until("stuck", func(r recover.Record) bool { return r.State == recover.Stuck })
	if !strings.Contains(r.Incident.Stuck, "fence-required") || w.agent.calls != 0 {
		t.Fatalf("stuck %q, activations %d", r.Incident.Stuck, w.agent.calls)
	}
	w.stop() // the alert goroutine is owned by the executor: it finished
	notes := w.notes.events()
	if len(notes) != 1 || notes[0].Event != "alert" || !strings.Contains(notes[0].Reason, "hypervisor unreachable") {
		t.Errorf("notifications %+v, want one alert", notes)
	}
	if n := w.metric("understudy_recover_incidents_total", "stuck"); n != 1 {
		t.Errorf("incidents_total{stuck} = %v", n)
	}
}

func TestExecutorDNSAlreadyFlipped(t *testing.T) {
	w := newWorld(t, nil)
	w.dns.records["web.lab.test."] = []netip.Addr{standbyAddr} // flipped by an earlier run
	if err := w.exec.Trigger(context.Background(), "web", recover.FromMonitor, "vm down"); err != nil {
		t.Fatal(err)
	}
	r := w.until("closed", closed)
	dns := r.Incident.Steps[r.Incident.Playbook.Index(playbooks.DNSReplace)]
	if r.State != recover.OnStandby || dns.Status != recover.StatusDone || !strings.Contains(dns.Note, "already held") {
		t.Fatalf("state %s, dns step %+v", r.State, dns)
	}
}

func TestExecutorDNSPreconditionStuck(t *testing.T) {
	w := newWorld(t, nil)
	other := netip.MustParseAddr("10.200.9.9")
	w.dns.records["web.lab.test."] = []netip.Addr{other} // someone else changed it
	if err := w.exec.Trigger(context.Background(), "web", recover.FromMonitor, "vm down"); err != nil {
		t.Fatal(err)
	}
	r := w.until("stuck", func(r recover.Record) bool { return r.State == recover.Stuck })
	dns := r.Incident.Steps[r.Incident.Playbook.Index(playbooks.DNSReplace)]
	if dns.Attempt != 1 || !strings.Contains(dns.Error, "10.200.9.9") || !strings.Contains(dns.Error, recover.ErrPrecondition.Error()) {
		t.Errorf("dns step %+v, want one attempt refused by the precondition", dns)
	}
	if got := w.dns.get("web.lab.test."); !slices.Equal(got, []netip.Addr{other}) {
		t.Errorf("record changed to %v", got)
	}
}

func TestExecutorExecHookEnvironment(t *testing.T) {
	pb, err := playbooks.Parse("hooks", []byte("- step: activate\n- step: wait-healthy\n- step: dns-replace\n- step: exec\n  command: [/bin/hook, x]\n"))
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, func(c *recover.Config) { c.Playbook = pb })
	if err := w.exec.Trigger(context.Background(), "web", recover.FromMonitor, "vm down"); err != nil {
		t.Fatal(err)
	}
	w.until("closed", closed)
	if len(w.execer.runs) != 1 {
		t.Fatalf("hook ran %d times", len(w.execer.runs))
	}
	run := strings.Join(w.execer.runs[0], " ")
	for _, want := range []string{"/bin/hook x", "UNDERSTUDY_INCIDENT=web-1", "UNDERSTUDY_FROM=10.200.0.11", "UNDERSTUDY_TO=10.200.1.100", "UNDERSTUDY_EPOCH=3", "UNDERSTUDY_STEP=exec"} {
		if !strings.Contains(run, want) {
			t.Errorf("hook run %q lacks %q", run, want)
		}
	}
}

// A monitor killed while activate is in flight: the restarted executor
// resumes the incident, runs activate again (it is idempotent) and finishes
// without repeating the steps that were done. It runs over both stores.
func TestExecutorResumesAfterKill(t *testing.T) {
	t.Run("mem", func(t *testing.T) { testResumesAfterKill(t, nil) })
	t.Run("etcd", func(t *testing.T) {
		e, err := embedded.Start(context.Background(), embedded.Config{Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		testResumesAfterKill(t, store.NewEtcd(e.Client, "/t-recover-resume/"))
	})
}

func testResumesAfterKill(t *testing.T, store store.Store) {
	w := newWorld(t, nil)
	if store != nil {
		w.stop()
		w.store = store
		w.start()
	}
	w.agent.block = make(chan struct{})
	w.agent.started = make(chan struct{}, 4)
	if err := w.exec.Trigger(context.Background(), "web", recover.FromMonitor, "vm down"); err != nil {
		t.Fatal(err)
	}
	<-w.agent.started
	w.stop() // killed mid-activate

	rec, err := w.store.Load(context.Background())
	if err != nil || len(rec) != 1 || rec[0].Incident.Steps[2].Status != recover.StatusRunning {
		t.Fatalf("stored record after kill: %+v, %v", rec, err)
	}
	w.agent.mu.Lock()
	w.agent.block = nil
	w.agent.mu.Unlock()
	w.epoch = 4 // the new monitor's epoch
	w.start()
	<-w.agent.started
	r := w.until("closed", closed)
	if r.State != recover.OnStandby || r.Incident.Result != recover.ResultRecovered {
		t.Fatalf("state %s result %q", r.State, r.Incident.Result)
	}
	if len(w.fencer.stopped) != 1 || w.dns.replaces != 1 || len(w.notes.events()) != 1 {
		t.Errorf("fences %d, DNS replaces %d, notifications %d; want 1 each", len(w.fencer.stopped), w.dns.replaces, len(w.notes.events()))
	}
	if !slices.Equal(w.agent.epochs, []uint64{3, 4}) {
		t.Errorf("activation epochs %v, want [3 4] (re-run with the new epoch)", w.agent.epochs)
	}
	if r.Incident.Steps[2].Note != "resumed after restart" {
		t.Errorf("activate note %q", r.Incident.Steps[2].Note)
	}
}

// metric returns a counter's value or a histogram's count from the world's
// registry, for the series whose only label has value label ("" for none).
func (w *world) metric(name, label string) float64 {
	w.t.Helper()
	fams, err := w.reg.Gather()
	if err != nil {
		w.t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if len(m.GetLabel()) > 0 && m.GetLabel()[0].GetValue() != label {
				continue
			}
			if h := m.GetHistogram(); h != nil {
				return float64(h.GetSampleCount())
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func TestExecutorFlapDamping(t *testing.T) {
	w := newWorld(t, func(c *recover.Config) { c.Flap = recover.FlapPolicy{Max: 2, Window: time.Hour} })
	ctx := context.Background()
	if err := w.exec.Trigger(ctx, "web", recover.FromMonitor, "vm down"); err != nil {
		t.Fatal(err)
	}
	w.until("closed", closed)
	if err := w.exec.Reset(ctx, "web", "failed back by hand"); err != nil {
		t.Fatal(err)
	}
	w.until("primary", func(r recover.Record) bool { return r.State == recover.Primary })
	// Two moves within the hour: the next failure is not failed over.
	if err := w.exec.Trigger(ctx, "web", recover.FromMonitor, "vm down again"); err != nil {
		t.Fatal(err)
	}
	r := w.until("damped", func(r recover.Record) bool { return !r.DampedUntil.IsZero() })
	if r.State != recover.Primary || r.Incident.ID != "web-2" || r.Incident.Kind != recover.KindReset {
		t.Errorf("state %s incident %s, want primary with no new incident", r.State, r.Incident.ID)
	}
	if recs := w.exec.Records(); len(recs) != 1 || recs[0].State != recover.Primary {
		t.Errorf("Records() = %+v", recs)
	}
	w.stop()
	var alerts []Notification
	for _, n := range w.notes.events() {
		if n.Event == "alert" {
			alerts = append(alerts, n)
		}
	}
	if len(alerts) != 1 || alerts[0].Incident != nil || !strings.Contains(alerts[0].Reason, "flapping") {
		t.Errorf("alerts %+v, want one flapping alert without an incident", alerts)
	}
	if n := w.metric("understudy_recover_incidents_total", "damped"); n != 1 {
		t.Errorf("incidents_total{damped} = %v", n)
	}
	if w.agent.calls != 1 {
		t.Errorf("activations %d, want 1", w.agent.calls)
	}
}

// TestExecutorResumesAStepPastItsDeadline: a monitor that takes over
// later than the interrupted step's timeout (the dead one set the
// deadline) re-runs the step with a new deadline instead of timing it out.
// (The lab caught a race here once: the incident's goroutine looked at the
// old deadline before the resume was queued. spawn now queues it before
// the goroutine starts; in-process the race is too narrow to reproduce.)
func TestExecutorResumesAStepPastItsDeadline(t *testing.T) {
	w := newWorld(t, nil)
	w.agent.block = make(chan struct{})
	w.agent.started = make(chan struct{}, 4)
	if err := w.exec.Trigger(context.Background(), "web", recover.FromMonitor, "vm down"); err != nil {
		t.Fatal(err)
	}
	<-w.agent.started
	w.stop() // killed mid-activate
	recs, err := w.store.Load(context.Background())
	if err != nil || len(recs) != 1 {
		t.Fatalf("stored records: %+v, %v", recs, err)
	}
	rec := recs[0]
	rec.Incident.Steps[2].Deadline = time.Now().Add(-time.Minute) // the takeover came late
	if err := w.store.Save(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	w.agent.mu.Lock()
	w.agent.block = nil
	w.agent.mu.Unlock()
	w.start()
	r := w.until("closed", closed)
	if r.State != recover.OnStandby || r.Incident.Result != recover.ResultRecovered {
		t.Fatalf("state %s result %q stuck %q; want the late resume to re-run activate", r.State, r.Incident.Result, r.Incident.Stuck)
	}
}
