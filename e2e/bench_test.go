package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/monitor"
	"github.com/understudy/understudy/monitor/api"
)

// BenchmarkFailoverWarm measures, for a warm service with interval 250ms and
// fails 3, the time from a primary's death (force-stop) to the DNS flip.
func BenchmarkFailoverWarm(b *testing.B) { benchFailover(b, "warm", 165) }

// BenchmarkFailoverCold is the same for a cold service.
func BenchmarkFailoverCold(b *testing.B) { benchFailover(b, "cold", 166) }

// sample is one failover's timings in milliseconds.
type sample map[string]float64

// The columns of a sample, in report order. "death" is when the primary
// stopped answering HTTP (probed every 5ms from the test), measured from the
// start of the force-stop call, which takes "stop" (LXD tears the container
// down well after it stopped serving); "death→flip" is the figure of merit,
// "stop→flip" an upper bound of it; the rest split the incident by phase.
var columns = []string{"death→flip", "stop→flip", "stop", "death", "death→detected", "confirm", "fence", "activate", "wait-healthy", "dns-replace"}

func benchFailover(b *testing.B, mode string, base int) {
	w := newWorld(b, base, map[string]string{"bench-" + mode: mode})
	s := w.services[0]
	r := w.startController(monitor.Options{Logger: quietLogger(b)})
	var samples []sample
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r.waitReady(b, s)
		b.StartTimer()
		samples = append(samples, r.failOnce(b, w, s))
		b.StopTimer()
		r.restorePrimary(b, w, s)
	}
	report(b, mode, samples)
}

// waitReady waits until the service is on its primary, its standby container
// prepared, and the monitor sees every target of it up.
func (r *running) waitReady(b *testing.B, s svc) {
	ctx, cancel := context.WithTimeout(context.Background(), failoverBound)
	defer cancel()
	if _, err := r.waitService(ctx, s.Name, func(st api.ServiceStatus) bool {
		return st.State == "primary" && st.Standby.Prepared
	}); err != nil {
		b.Fatalf("service not ready: %v", err)
	}
	for _, t := range []string{"service/" + s.Name, "vm/" + s.VM + "/instance", "vm/" + s.VM + "/icmp"} {
		if err := r.waitMetric(ctx, "understudy_probe_target_up", t, func(v float64) bool { return v == 1 }); err != nil {
			b.Fatalf("monitor does not see the primary up: %v", err)
		}
	}
}

// failOnce kills the primary and waits for the flip; it returns the timings.
func (r *running) failOnce(b *testing.B, w *world, s svc) sample {
	ctx, cancel := context.WithTimeout(context.Background(), failoverBound)
	defer cancel()
	died := watchDeath(ctx, s.Address)
	t0 := time.Now()
	if err := w.hostA.Stop(ctx, s.VM, 0); err != nil {
		b.Fatalf("force-stop primary: %v", err)
	}
	t1 := time.Now()
	death := died()
	if death.IsZero() {
		b.Fatal("the primary still answered after the force-stop returned")
	}
	st, err := r.waitService(ctx, s.Name, func(st api.ServiceStatus) bool { return st.State == "on-standby" })
	if err != nil {
		b.Fatalf("no failover: %v", err)
	}
	inc := st.LastIncident
	at := map[string]time.Time{}
	for _, p := range inc.Phases {
		at[string(p.Phase)] = p.At
	}
	flip, ok := at["dns-flipped"]
	if !ok {
		b.Fatalf("incident %s has no dns-flipped phase: %+v", inc.ID, inc.Phases)
	}
	steps := map[string]float64{}
	for _, st := range inc.Steps {
		steps[st.Kind] = st.MS
	}
	msOf := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return sample{
		"death→flip": msOf(flip.Sub(death)), "stop→flip": msOf(flip.Sub(t0)), "stop": msOf(t1.Sub(t0)),
		"death": msOf(death.Sub(t0)), "death→detected": msOf(at["detected"].Sub(death)),
		"confirm": steps["confirm"], "fence": steps["fence"], "activate": steps["activate"],
		"wait-healthy": steps["wait-healthy"], "dns-replace": steps["dns-replace"],
	}
}

// restorePrimary starts the primary again and resets the service to it.
func (r *running) restorePrimary(b *testing.B, w *world, s svc) {
	ctx, cancel := context.WithTimeout(context.Background(), failoverBound)
	defer cancel()
	if err := w.hostA.Start(ctx, s.VM); err != nil {
		b.Fatalf("start primary: %v", err)
	}
	if err := waitHTTP(ctx, s.Address, s.VM); err != nil {
		b.Fatal(err)
	}
	code, err := r.post(ctx, "/v1/services/"+s.Name+"/reset")
	if err != nil || code != http.StatusAccepted {
		b.Fatalf("reset: %d %v", code, err)
	}
	addrs, err := lookupA(ctx, w.lab.DNSServer, s.FQDN)
	if err != nil || len(addrs) != 1 || addrs[0] != s.Address {
		b.Fatalf("after reset %s = %v (%v), want %s", s.FQDN, addrs, err, s.Address)
	}
}

// report logs every sample and reports the medians.
func report(b *testing.B, mode string, samples []sample) {
	if len(samples) == 0 {
		return
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s failover, %d runs (ms):\n%-4s", mode, len(samples), "run")
	for _, c := range columns {
		fmt.Fprintf(&sb, " %14s", c)
	}
	for i, s := range samples {
		fmt.Fprintf(&sb, "\n%-4d", i+1)
		for _, c := range columns {
			fmt.Fprintf(&sb, " %14.1f", s[c])
		}
	}
	fmt.Fprintf(&sb, "\n%-4s", "med")
	for _, c := range columns {
		m := median(samples, c)
		fmt.Fprintf(&sb, " %14.1f", m)
	}
	// b.Log truncates a benchmark's log; the table goes to stdout whole.
	fmt.Println(sb.String())
	b.ReportMetric(median(samples, "death→flip"), "ms-death-to-flip-median")
	b.ReportMetric(median(samples, "stop→flip"), "ms-stop-to-flip-median")
	b.ReportMetric(median(samples, "death→detected"), "ms-detect-median")
	b.ReportMetric(median(samples, "activate"), "ms-activate-median")
}

func median(samples []sample, col string) float64 {
	v := make([]float64, 0, len(samples))
	for _, s := range samples {
		v = append(v, s[col])
	}
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// watchDeath GETs http://addr/ every 5ms (20ms timeout) until a request
// fails; the returned function stops the watch and returns when the first
// failed request started (zero if none failed).
func watchDeath(ctx context.Context, addr string) func() time.Time {
	ctx, cancel := context.WithCancel(ctx)
	var death time.Time
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			start := time.Now()
			rctx, rcancel := context.WithTimeout(ctx, 20*time.Millisecond)
			_, err := getBody(rctx, addr)
			rcancel()
			if err != nil && ctx.Err() == nil {
				death = start
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return func() time.Time {
		// The force-stop has returned: the primary is dead, so the watch
		// ends by itself within one request timeout.
		select {
		case <-done:
		case <-time.After(time.Second):
		}
		cancel()
		<-done
		return death
	}
}
