package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/icmp"
	"github.com/understudy/understudy/internal/labtest"
	"github.com/understudy/understudy/monitor"
	"github.com/understudy/understudy/monitor/probe"
)

// TestIntegrationBlipNoFailover cuts a primary's network for less than the
// hysteresis (fails = 3 failed probes in a row) and checks that the monitor
// saw it fail, yet no target went down and nothing failed over. The blip is
// bounded by events, not by a time window: the monitor's own probes run
// wrapped, the host's traffic to the primary is dropped (one iptables rule in
// OUTPUT), and the first probe of the primary that fails removes the rule
// before it returns, while the primary's other probes wait. So no target of
// the primary fails more than once in a row, whatever the machine's speed.
// (A 300 ms cut inside the container, 750 ms below the threshold, was not
// bounded: under load its exec and sleep ran long.)
func TestIntegrationBlipNoFailover(t *testing.T) {
	w := newWorld(t, 163, map[string]string{"blip": "warm"})
	s := w.services[0]
	b := newBlip(t, w, s.Address)
	r := w.startController(monitor.Options{Probers: b.probers(t, w)})
	ctx, cancel := context.WithTimeout(context.Background(), failoverBound)
	defer cancel()
	r.waitPrepared(ctx, t, s.Name)
	icmp, service := "vm/"+s.VM+"/icmp", "service/"+s.Name
	for _, target := range []string{icmp, service} {
		if err := r.waitMetric(ctx, "understudy_probe_target_up", target, func(v float64) bool { return v == 1 }); err != nil {
			t.Fatalf("monitor never saw the primary up: %v", err)
		}
	}
	lowest := watchLowest(ctx, r, icmp, service)
	b.inject(ctx, t)
	select {
	case <-b.removed:
	case <-ctx.Done():
		t.Fatalf("no probe of the blackholed primary failed: %v", ctx.Err())
	}
	// fails + passes more probe rounds: a failure in progress would have
	// crossed the threshold by then.
	probes := r.metric("understudy_probe_duration_seconds", "icmp")
	if err := r.waitMetric(ctx, "understudy_probe_duration_seconds", "icmp", func(v float64) bool { return v >= probes+5 }); err != nil {
		t.Fatalf("the monitor stopped probing: %v", err)
	}
	failed := func(target string) float64 {
		return max(r.metric("understudy_probe_failures_total", target), 0)
	} // -1: none yet
	if got := failed(icmp) + failed(service); got < 1 {
		t.Fatalf("the monitor counted %v failed probes of the primary, want at least 1: the test proves nothing", got)
	}
	for target, v := range lowest() {
		if v != 1 {
			t.Errorf("%s went down during a blip of one failed probe: the hysteresis did not hold", target)
		}
	}
	st, err := r.service(ctx, s.Name)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != "primary" || st.LastIncident != nil || st.Incidents != 0 {
		t.Errorf("after a blip: state %s, %d incidents, last %+v; want primary and none", st.State, st.Incidents, st.LastIncident)
	}
	addrs, err := lookupA(ctx, w.lab.DNSServer, s.FQDN)
	if err != nil || len(addrs) != 1 || addrs[0] != s.Address {
		t.Errorf("%s = %v (%v), want the primary %s", s.FQDN, addrs, err, s.Address)
	}
}

// blip drops the host's traffic to one address until the first probe of it
// fails.
type blip struct {
	addr    string
	rule    []string // iptables rule spec, chain first
	mu      sync.RWMutex
	armed   atomic.Bool
	once    sync.Once
	removed chan struct{}
	err     error
}

func newBlip(t *testing.T, w *world, addr string) *blip {
	b := &blip{addr: addr, removed: make(chan struct{}),
		rule: []string{"OUTPUT", "-d", addr, "-m", "comment", "--comment", "understudy-e2e-blip", "-j", "DROP"}}
	t.Cleanup(func() {
		b.remove()
		if b.err != nil {
			t.Errorf("remove the blip's rule: %v", b.err)
		}
	})
	return b
}

// inject arms the probes, then adds the rule.
func (b *blip) inject(ctx context.Context, t *testing.T) {
	t.Helper()
	b.armed.Store(true)
	if out, err := exec.CommandContext(ctx, "iptables", append([]string{"-w", "-I"}, b.rule...)...).CombinedOutput(); err != nil {
		t.Fatalf("iptables -I %v: %v: %s", b.rule, err, out)
	}
}

// remove deletes the rule once (a missing rule is fine).
func (b *blip) remove() {
	b.once.Do(func() {
		out, err := exec.Command("iptables", append([]string{"-w", "-D"}, b.rule...)...).CombinedOutput()
		if err != nil && !strings.Contains(string(out), "Bad rule") && !strings.Contains(string(out), "exist") {
			b.err = fmt.Errorf("iptables -D: %w: %s", err, out)
		}
		close(b.removed)
	})
}

// probers are the monitor's real probes, wrapped: a probe of the blip's
// address waits while the rule is being removed, and the first one that
// fails once armed removes it before it returns.
func (b *blip) probers(t *testing.T, w *world) map[probe.Kind]probe.ProbeFunc {
	pinger, err := icmp.New()
	if err != nil {
		labtest.Skip(t, "the monitor's probes need a raw ICMP socket (root): %v", err)
	}
	t.Cleanup(func() { pinger.Close() })
	hv := probe.HypervisorFuncs{
		StateFunc: func(ctx context.Context, instance string) (bool, error) {
			st, err := w.hostA.State(ctx, instance)
			return st.Running, err
		},
		CheckAPIFunc: func(ctx context.Context) error { _, err := w.hostA.ServerInfo(ctx); return err },
	}
	probes := probe.Probers(probe.Deps{Pinger: pinger, Hypervisors: map[string]probe.Hypervisor{"host-a": hv}})
	out := map[probe.Kind]probe.ProbeFunc{}
	for kind, run := range probes {
		out[kind] = func(ctx context.Context, tg probe.Target) error {
			if tg.Address != b.addr {
				return run(ctx, tg)
			}
			b.mu.RLock()
			err := run(ctx, tg)
			b.mu.RUnlock()
			if err != nil && b.armed.CompareAndSwap(true, false) {
				b.mu.Lock() // no new probe of the primary until the rule is gone
				b.remove()
				b.mu.Unlock()
			}
			return err
		}
	}
	return out
}

// watchLowest samples the up gauge of targets every 10ms until ctx ends or
// the returned function is called, which returns the lowest value each had.
func watchLowest(ctx context.Context, r *running, targets ...string) func() map[string]float64 {
	ctx, cancel := context.WithCancel(ctx)
	low := map[string]float64{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, t := range targets {
				if v, ok := low[t]; !ok || r.metric("understudy_probe_target_up", t) < v {
					low[t] = r.metric("understudy_probe_target_up", t)
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return func() map[string]float64 {
		cancel()
		<-done
		return low
	}
}
