package probe

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// blackholePinger is a fakePinger whose down addresses answer nothing: a
// probe of one waits out its deadline, as a blackholed VM's does.
type blackholePinger struct{ fakePinger }

func (p *blackholePinger) Ping(ctx context.Context, addr netip.Addr) (time.Duration, error) {
	p.mu.Lock()
	up := p.up[addr]
	p.mu.Unlock()
	if up {
		return 50 * time.Microsecond, nil
	}
	<-ctx.Done()
	return 0, fmt.Errorf("ping %s: no echo reply: %w", addr, ctx.Err())
}

// scripted is a hypervisor probe that answers from a script (true: pass,
// then the last answer for ever) and records when each probe started.
type scripted struct {
	mu     sync.Mutex
	script []bool
	starts []time.Time
}

func (s *scripted) probe(context.Context, Target) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.starts = append(s.starts, time.Now())
	ok := s.script[min(len(s.starts), len(s.script))-1]
	if !ok {
		return errors.New("scripted failure")
	}
	return nil
}

// TestFastReprobeSchedule follows one target through a script on
// synctest's clock (interval 1s, fast-interval 250ms, fails 3, passes 2):
// after a failure of an up target the next probe comes one fast interval
// later, except the one that would cross the threshold, which waits until
// one interval after the run's first failure; a pass (recovery included)
// and a down target go back to the interval; a flapping target is never
// probed sooner than the fast interval.
func TestFastReprobeSchedule(t *testing.T) {
	const P, F = true, false
	script := []bool{P, P, F, F, P, P, F, F, F, F, F, P, P, P, F, P, F, P}
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	want := []time.Duration{ // the gap after each probe of the script
		ms(1000), ms(1000), // up, passing
		ms(250), ms(750), ms(1000), // two failures, then a pass resets the run
		ms(1000), ms(250), ms(750), // the third failure of the run waits for run start + interval
		ms(1000), ms(1000), ms(1000), // down: the interval
		ms(1000), ms(1000), ms(1000), // passes 2 (recovered), then up again
		ms(250), ms(1000), ms(250), // flapping
	}
	synctest.Test(t, func(t *testing.T) {
		s := &scripted{script: script}
		probers := Probers(Deps{})
		probers[KindHypervisor] = s.probe
		plan := apiOnlyPlan()
		plan.Timing = Timing{Interval: time.Second, Timeout: 100 * time.Millisecond, Fails: 3, Passes: 2, FastInterval: ms(250)}
		m, err := New(plan, Options{Probers: probers, Sink: &sliceSink{}, Logger: quietLogger(), Jitter: noJitter, Reconfirm: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { _ = m.Run(ctx) })
		time.Sleep(20 * time.Second)
		cancel()
		wg.Wait()
		if len(s.starts) <= len(want) {
			t.Fatalf("%d probes in 20s, want more than %d", len(s.starts), len(want))
		}
		for i, w := range want {
			if got := s.starts[i+1].Sub(s.starts[i]); got != w {
				t.Errorf("gap after probe %d (%v) = %v, want %v", i+1, script[i], got, w)
			}
		}
		// Every early start is counted: the failures of an up target that
		// did not cross the threshold (6 in the script).
		if got := testutil.ToFloat64(m.opts.Metrics.fastReprobes.WithLabelValues("hypervisor", "hypervisor/host-a")); got != 6 {
			t.Errorf("fast re-probes counted %v, want 6", got)
		}
	})
}

// TestFastReprobeOffKeepsTheInterval: fast-interval 0 or equal to the
// interval probes every interval, failing or not, and counts nothing.
func TestFastReprobeOffKeepsTheInterval(t *testing.T) {
	for _, fast := range []time.Duration{0, time.Second} {
		synctest.Test(t, func(t *testing.T) {
			s := &scripted{script: []bool{true, false, false, true, false}}
			probers := Probers(Deps{})
			probers[KindHypervisor] = s.probe
			plan := apiOnlyPlan()
			plan.Timing = Timing{Interval: time.Second, Timeout: 100 * time.Millisecond, Fails: 3, Passes: 2, FastInterval: fast}
			m, err := New(plan, Options{Probers: probers, Sink: &sliceSink{}, Logger: quietLogger(), Jitter: noJitter, Reconfirm: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() { _ = m.Run(ctx) })
			time.Sleep(10 * time.Second)
			cancel()
			wg.Wait()
			for i := 1; i < len(s.starts); i++ {
				if got := s.starts[i].Sub(s.starts[i-1]); got != time.Second {
					t.Errorf("fast-interval %v: gap %d = %v, want the interval", fast, i, got)
				}
			}
			if got := testutil.ToFloat64(m.opts.Metrics.fastReprobes.WithLabelValues("hypervisor", "hypervisor/host-a")); got != 0 {
				t.Errorf("fast-interval %v: %v fast re-probes counted, want 0", fast, got)
			}
		})
	}
}

// TestFastReprobeDetectsSooner measures on synctest's clock the time from a
// lone VM's death to its VMDown, with the fast re-probe off and on, side
// by side: fails failures span one interval instead of fails-1 (from the
// first failed probe, 500 ms after the death here), whatever the fast
// interval up to interval/(fails-1).
func TestFastReprobeDetectsSooner(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	detect := func(fails int, fast time.Duration) (d time.Duration) {
		synctest.Test(t, func(t *testing.T) {
			addr := netip.MustParseAddr("10.0.0.11")
			pinger := &fakePinger{up: map[netip.Addr]bool{addr: true}}
			hyp := &fakeHypervisor{running: map[string]bool{"vm1": true}}
			sink := &sliceSink{}
			plan := onePlan(Timing{Interval: time.Second, Timeout: ms(200), Fails: fails, Passes: 1, FastInterval: fast})
			m, err := New(plan, Options{
				Probers: Probers(Deps{Pinger: pinger, Hypervisors: map[string]Hypervisor{"host-a": hyp}}),
				Sink:    sink, Confirmer: &fakeAgent{}, Logger: quietLogger(), Jitter: noJitter,
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() { _ = m.Run(ctx) })
			time.Sleep(ms(5500))
			died := time.Now()
			pinger.mu.Lock()
			pinger.up[addr] = false
			pinger.mu.Unlock()
			time.Sleep(10 * time.Second)
			cancel()
			wg.Wait()
			evs := sink.take()
			if len(evs) != 1 || evs[0].Kind != VMDown {
				t.Fatalf("events %q, want one vm-down", kinds(evs))
			}
			d = evs[0].At.Sub(died)
		})
		return d
	}
	cases := []struct {
		fails     int
		fast      time.Duration
		off, on   time.Duration // death to VMDown
		reprobing string
	}{
		{3, ms(500), ms(2500), ms(1500), "interval/(fails-1), the default"},
		{3, ms(250), ms(2500), ms(1500), "a quarter interval: the third failure still waits for one interval"},
		{5, ms(250), ms(4500), ms(1500), "fails 5"},
		{5, ms(400), ms(4500), ms(2100), "fails 5, (fails-1) × fast beyond the interval"},
		{2, ms(250), ms(1500), ms(1500), "fails 2: nothing to gain"},
	}
	for _, c := range cases {
		off, on := detect(c.fails, 0), detect(c.fails, c.fast)
		t.Logf("fails %d, fast-interval %v: death to VMDown %v off, %v on", c.fails, c.fast, off, on)
		if off != c.off || on != c.on {
			t.Errorf("%s: death to VMDown %v off, %v on; want %v, %v", c.reprobing, off, on, c.off, c.on)
		}
	}
}

// TestFastReprobeKeepsAHostInOneBatch runs the engine on synctest's clock
// with the fast re-probe on (a quarter interval, fails 3): the two VMs of
// host-a stop answering at once, their probes spread over the interval by
// random jitter, and still form one batch (one round, one VMDown): the
// failure that crosses the threshold comes one interval after the first,
// by when the other VM has failed at least once, so host-a is not quiet.
// Each run draws new offsets; the probes' failures are quick or take the
// whole timeout (a blackhole). Without the one-interval floor on the
// crossing failure (nextStart), a quarter of the runs would confirm the
// first VM alone and then batch the second.
func TestFastReprobeKeepsAHostInOneBatch(t *testing.T) {
	for run := range 40 {
		blackhole := run%2 == 1
		synctest.Test(t, func(t *testing.T) {
			plan := Plan{
				Timing:      Timing{Interval: time.Second, Timeout: 200 * time.Millisecond, Fails: 3, Passes: 1, FastInterval: 250 * time.Millisecond},
				Hypervisors: []HypervisorSpec{{Name: "host-a"}, {Name: "host-b"}},
			}
			pinger := &blackholePinger{fakePinger{up: map[netip.Addr]bool{}}}
			var ping Pinger = &pinger.fakePinger
			if blackhole {
				ping = pinger
			}
			running := map[string]bool{}
			for i, hyp := range []string{"host-a", "host-a", "host-b"} {
				vm, addr := fmt.Sprintf("vm%d", i+1), fmt.Sprintf("10.0.0.%d", 11+i)
				plan.VMs = append(plan.VMs, VMSpec{Name: vm, Hypervisor: hyp, Instance: vm, Address: addr})
				pinger.up[netip.MustParseAddr(addr)] = true
				running[vm] = true
			}
			hyp := &fakeHypervisor{running: running}
			probers := Probers(Deps{Pinger: ping, Hypervisors: map[string]Hypervisor{"host-a": hyp, "host-b": hyp}})
			agent, sink := &fakeAgent{}, &sliceSink{}
			m, err := New(plan, Options{Probers: probers, Sink: sink, Confirmer: agent, Logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() { _ = m.Run(ctx) })
			time.Sleep(5 * time.Second)
			pinger.mu.Lock()
			pinger.up[netip.MustParseAddr("10.0.0.11")] = false
			pinger.up[netip.MustParseAddr("10.0.0.12")] = false
			pinger.mu.Unlock()
			time.Sleep(10 * time.Second)
			cancel()
			wg.Wait()
			evs := sink.take()
			if got := kinds(evs); len(got) != 1 || got[0] != "vm-down [] [vm1 vm2]" {
				t.Fatalf("run %d (blackhole %v): events %q, want one vm-down of host-a's two VMs", run, blackhole, got)
			}
			if got := testutil.ToFloat64(m.ev.metrics.confirmations.WithLabelValues("host-a")); got != 1 {
				t.Errorf("run %d: confirmations of host-a = %v, want 1", run, got)
			}
		})
	}
}
