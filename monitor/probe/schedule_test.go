package probe

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/understudy/understudy/internal/clock/clocktest"
)

// onePlan is one hypervisor with one VM and no service: three targets
// (hypervisor/host-a, vm/vm1/icmp, vm/vm1/instance).
func onePlan(timing Timing) Plan {
	return Plan{
		Timing:      timing,
		Hypervisors: []HypervisorSpec{{Name: "host-a"}},
		VMs:         []VMSpec{{Name: "vm1", Hypervisor: "host-a", Instance: "vm1", Address: "10.0.0.11"}},
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func noJitter(time.Duration) time.Duration { return 0 }

// startRun runs m until the test ends and returns a channel closed when
// Run returned.
func startRun(t *testing.T, m *Engine) (cancel func(), done <-chan struct{}) {
	t.Helper()
	ctx, cancelCtx := context.WithCancel(context.Background())
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		if err := m.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() { cancelCtx(); <-ch })
	return cancelCtx, ch
}

// TestBlipShorterThanHysteresisCausesNoEvent drives three targets with a
// fake clock: a VM that fails twice (fails is 3) and recovers raises
// nothing; failing three times in a row raises VMDown at the third probe.
func TestBlipShorterThanHysteresisCausesNoEvent(t *testing.T) {
	clock := clocktest.NewFake()
	vmAddr := netip.MustParseAddr("10.0.0.11")
	pinger := &fakePinger{up: map[netip.Addr]bool{vmAddr: true}}
	hyp := &fakeHypervisor{running: map[string]bool{"vm1": true}}
	events := make(ChanSink, 10)
	reg := prometheus.NewRegistry()
	metrics, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(onePlan(Timing{Interval: time.Second, Timeout: time.Minute, Fails: 3, Passes: 2}), Options{
		Probers:   Probers(Deps{Pinger: pinger, Hypervisors: map[string]Hypervisor{"host-a": hyp}}),
		Sink:      events,
		Confirmer: &fakeAgent{}, // sees the VM down too
		Clock:     clock, Metrics: metrics, Logger: quietLogger(), Jitter: noJitter,
		Reconfirm: time.Hour,
		Settle:    -1, // hysteresis alone: confirm at the third failure (settle_test.go has the window)
	})
	if err != nil {
		t.Fatal(err)
	}
	startRun(t, m)
	const sleepers = 4 // three targets and the evaluator's reconfirm timer
	clock.BlockUntil(t, sleepers)

	setVM := func(up bool) {
		pinger.mu.Lock()
		pinger.up[vmAddr] = up
		pinger.mu.Unlock()
		hyp.mu.Lock()
		hyp.running["vm1"] = up
		hyp.mu.Unlock()
	}
	step := func() { clock.Advance(time.Second); clock.BlockUntil(t, sleepers) }

	setVM(false)
	step()
	step() // two failures: shorter than fails × interval
	setVM(true)
	step()
	step()
	if got := value(t, metrics.targetUp.WithLabelValues("vm/vm1/icmp")); got != 1 {
		t.Errorf("target_up after a blip = %v, want 1", got)
	}

	setVM(false)
	step()
	step()
	outageSeen := clock.Now()
	step() // the third failure in a row
	ev := <-events
	if ev.Kind != VMDown || len(ev.VMs) != 1 || ev.VMs[0] != "vm1" {
		t.Fatalf("first event = %+v, want VMDown of vm1 (the blip must not raise one)", ev)
	}
	if want := outageSeen.Add(time.Second); !ev.At.Equal(want) {
		t.Errorf("VMDown at %v, want at the third failed probe, %v", ev.At, want)
	}
	if got := value(t, metrics.targetUp.WithLabelValues("vm/vm1/icmp")); got != 0 {
		t.Errorf("target_up after the outage = %v, want 0", got)
	}
	if got := value(t, metrics.probeFailures.WithLabelValues("icmp", "vm/vm1/icmp")); got != 5 {
		t.Errorf("probe_failures_total for the VM's icmp = %v, want 5", got)
	}
	if n := seriesCount(t, reg, "understudy_probe_duration_seconds"); n != 3 {
		t.Errorf("probe duration series = %d, want one per kind probed (3)", n)
	}

	setVM(true)
	step()
	step() // passes is 2
	if ev := <-events; ev.Kind != Recovered || ev.Of != VMDown {
		t.Fatalf("event after the VM came back = %+v, want Recovered of VMDown", ev)
	}
}

// blockingAPI is a hypervisor whose API check blocks until released and
// which counts how many checks run at once.
type blockingAPI struct {
	fakeHypervisor
	release  chan struct{}
	mu       sync.Mutex
	inFlight int
	maxSeen  int
	calls    int
}

func (b *blockingAPI) CheckAPI(ctx context.Context) error {
	b.mu.Lock()
	b.calls++
	b.inFlight++
	b.maxSeen = max(b.maxSeen, b.inFlight)
	b.mu.Unlock()
	defer func() { b.mu.Lock(); b.inFlight--; b.mu.Unlock() }()
	select {
	case <-b.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *blockingAPI) snapshot() (calls, inFlight, maxSeen int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls, b.inFlight, b.maxSeen
}

func apiOnlyPlan() Plan {
	return Plan{
		Timing:      Timing{Interval: time.Second, Timeout: time.Hour, Fails: 3, Passes: 1},
		Hypervisors: []HypervisorSpec{{Name: "host-a"}}, // no address: the API only
	}
}

func TestSlowProbeDelaysTheNextInsteadOfStacking(t *testing.T) {
	clock := clocktest.NewFake()
	api := &blockingAPI{release: make(chan struct{})}
	m, err := New(apiOnlyPlan(), Options{
		Probers: Probers(Deps{Hypervisors: map[string]Hypervisor{"host-a": api}}),
		Sink:    &sliceSink{}, Clock: clock, Logger: quietLogger(), Jitter: noJitter, Reconfirm: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	startRun(t, m)
	waitUntil(t, func() bool { c, _, _ := api.snapshot(); return c == 1 })
	clock.Advance(5 * time.Second) // five intervals pass while the first probe hangs
	api.release <- struct{}{}      // the first probe ends late...
	waitUntil(t, func() bool { c, f, _ := api.snapshot(); return c == 2 && f == 1 })
	api.release <- struct{}{} // ...so the second starts at once, and ends in time
	clock.BlockUntil(t, 2)    // the target and the reconfirm timer sleep
	calls, _, maxSeen := api.snapshot()
	if calls != 2 || maxSeen != 1 {
		t.Errorf("after a probe hung for 5 intervals: %d probes, at most %d at once; want 2 probes, 1 at once", calls, maxSeen)
	}
	clock.Advance(time.Second)
	waitUntil(t, func() bool { c, _, _ := api.snapshot(); return c == 3 })
	api.release <- struct{}{}
}

func TestRunStopsEveryGoroutine(t *testing.T) {
	api := &blockingAPI{release: make(chan struct{})}
	m, err := New(apiOnlyPlan(), Options{
		Probers: Probers(Deps{Hypervisors: map[string]Hypervisor{"host-a": api}}),
		Sink:    &sliceSink{}, Logger: quietLogger(), Jitter: noJitter,
	})
	if err != nil {
		t.Fatal(err)
	}
	cancel, done := startRun(t, m)
	waitUntil(t, func() bool { _, f, _ := api.snapshot(); return f == 1 })
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if _, inFlight, _ := api.snapshot(); inFlight != 0 {
		t.Errorf("%d probes still running after Run returned", inFlight)
	}
	if err := m.Run(context.Background()); err == nil {
		t.Error("a second Run was accepted")
	}
}

func TestNewRejectsBadPlans(t *testing.T) {
	good := testPlan()
	cases := []struct {
		name string
		edit func(*Plan)
		opts func(*Options)
	}{
		{"unknown hypervisor", func(p *Plan) { p.VMs[0].Hypervisor = "nope" }, nil},
		{"unknown vm", func(p *Plan) { p.Services[0].VM = "nope" }, nil},
		{"bad check", func(p *Plan) { p.Services[0].Check = KindICMP }, nil},
		{"bad confirm", func(p *Plan) { p.Services[0].Confirm = "maybe" }, nil},
		{"zero interval", func(p *Plan) { p.Timing.Interval = 0 }, nil},
		{"fast interval beyond the interval", func(p *Plan) { p.Timing.FastInterval = p.Timing.Interval + 1 }, nil},
		{"negative fast interval", func(p *Plan) { p.Timing.FastInterval = -1 }, nil},
		{"no sink", nil, func(o *Options) { o.Sink = nil }},
		{"missing probe", nil, func(o *Options) { delete(o.Probers, KindTCP) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := good
			p.VMs = append([]VMSpec(nil), good.VMs...)
			p.Services = append([]ServiceSpec(nil), good.Services...)
			o := Options{Probers: Probers(Deps{}), Sink: &sliceSink{}}
			if c.edit != nil {
				c.edit(&p)
			}
			if c.opts != nil {
				c.opts(&o)
			}
			if _, err := New(p, o); err == nil {
				t.Error("New accepted it")
			}
		})
	}
	if _, err := New(good, Options{Probers: Probers(Deps{}), Sink: &sliceSink{}}); err != nil {
		t.Errorf("New(good plan): %v", err)
	}
}

func TestMetricsRegisterOnce(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	var already prometheus.AlreadyRegisteredError
	if _, err := NewMetrics(reg); !errors.As(err, &already) {
		t.Errorf("second NewMetrics on one registry: error = %v, want AlreadyRegisteredError", err)
	}
}

// waitUntil polls a condition that another goroutine makes true.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// value reads a counter's or gauge's current value.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	switch {
	case d.Gauge != nil:
		return d.Gauge.GetValue()
	case d.Counter != nil:
		return d.Counter.GetValue()
	}
	t.Fatalf("metric %v is neither a counter nor a gauge", m.Desc())
	return 0
}

// seriesCount is the number of series of one metric family in reg.
func seriesCount(t *testing.T, reg *prometheus.Registry, name string) int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return len(mf.GetMetric())
		}
	}
	return 0
}
