package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/understudy/understudy/internal/icmp"
	"github.com/understudy/understudy/internal/labtest"
	"github.com/understudy/understudy/lxd"
	"github.com/understudy/understudy/monitor/api"
)

// labContainer creates and starts one busybox container and removes it at
// cleanup. It returns once the container answers HTTP.
func labContainer(t testing.TB, d labtest.Daemon, image, name, addr string) *lxd.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := lxd.Connect(ctx, lxd.Conn{Name: d.Name, Socket: d.Socket})
	if err != nil {
		t.Fatalf("connect to %s: %v", d.Name, err)
	}
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer ccancel()
		if err := c.Delete(cctx, name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		c.Close()
	})
	spec := lxd.InstanceSpec{Name: name, Image: image, Config: map[string]string{
		"environment.IPADDR":  fmt.Sprintf("%s/%d", addr, d.PrefixLen),
		"environment.GATEWAY": d.Gateway,
	}}
	if _, err := c.Ensure(ctx, spec); err != nil {
		t.Fatalf("ensure %s: %v", name, err)
	}
	if err := c.Start(ctx, name); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	waitHTTP(t, ctx, addr, name)
	return c
}

// waitHTTP waits until http://addr/ answers with name.
func waitHTTP(t testing.TB, ctx context.Context, addr, name string) {
	t.Helper()
	client := &http.Client{Timeout: 500 * time.Millisecond}
	for {
		resp, err := client.Get("http://" + addr + "/")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.TrimSpace(string(b)) == name {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s at %s never answered HTTP: %v", name, addr, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// flipMonitor stands in for the monitor: it streams the placement of one
// service and moves it to the standby on the first suspect report.
type flipMonitor struct {
	mu       sync.Mutex
	current  Placement
	standby  Placement
	watchers map[chan Placement]struct{}
	reported time.Time
	armed    atomic.Bool // set when the failure is injected
}

func (m *flipMonitor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v1/placements":
		ch := make(chan Placement, 4)
		m.mu.Lock()
		cur := m.current
		m.watchers[ch] = struct{}{}
		m.mu.Unlock()
		defer func() { m.mu.Lock(); delete(m.watchers, ch); m.mu.Unlock() }()
		enc := json.NewEncoder(w)
		_ = enc.Encode(api.PlacementEvent{Type: api.EventSnapshot, Placements: []Placement{cur}})
		w.(http.Flusher).Flush()
		for {
			select {
			case <-r.Context().Done():
				return
			case p := <-ch:
				_ = enc.Encode(api.PlacementEvent{Type: api.EventChange, Placements: []Placement{p}})
				w.(http.Flusher).Flush()
			}
		}
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/suspect"):
		if !m.armed.Load() {
			// Like the real monitor's confirmation: nothing failed yet, so
			// a report (a false probe miss on a busy machine) is refused.
			http.Error(w, "not confirmed", http.StatusConflict)
			return
		}
		m.mu.Lock()
		if m.reported.IsZero() {
			m.reported = time.Now()
			m.current = m.standby
			for ch := range m.watchers {
				ch <- m.standby
			}
		}
		m.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	default:
		http.NotFound(w, r)
	}
}

// loadResult is one request of the load generator.
type loadResult struct {
	start, end time.Time
	status     int
	body       string
	err        error
}

// runLoad sends GETs for host through front with 10 workers until count
// requests were sent or d passed.
func runLoad(front, host string, count int, d time.Duration) []loadResult {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	deadline := time.Now().Add(d)
	var sent atomic.Int64
	var mu sync.Mutex
	var out []loadResult
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			for sent.Add(1) <= int64(count) && time.Now().Before(deadline) {
				req, _ := http.NewRequest(http.MethodGet, front+"/", nil)
				req.Host = host
				res := loadResult{start: time.Now()}
				resp, err := client.Do(req)
				if err == nil {
					var b []byte
					b, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					res.status, res.body = resp.StatusCode, strings.TrimSpace(string(b))
				}
				res.err, res.end = err, time.Now()
				mu.Lock()
				out = append(out, res)
				mu.Unlock()
				time.Sleep(2 * time.Millisecond) // about 10 workers × 400 req/s at most
			}
		})
	}
	wg.Wait()
	return out
}

// TestIntegrationFailover runs load through the proxy while the primary
// container is force-stopped, and while its traffic is blackholed, with a
// warm standby container and a stand-in monitor that moves the service on
// the proxy's suspect report. No request may fail.
func TestIntegrationFailover(t *testing.T) {
	lab := labtest.Require(t)
	pinger, err := icmp.New()
	if err != nil {
		labtest.Skip(t, "the per-request probe needs a raw ICMP socket (root): %v", err)
	}
	t.Cleanup(func() { pinger.Close() })
	const standbyAddr = "10.200.1.181"
	labContainer(t, lab.Standby, lab.Image, "t-proxy-standby", standbyAddr)

	tests := []struct {
		failure       failure
		primary, addr string
	}{
		{failures[0], "t-proxy-stop", "10.200.0.181"},
		{failures[1], "t-proxy-hole", "10.200.0.182"},
	}
	for _, tc := range tests {
		t.Run(tc.failure.name, func(t *testing.T) {
			c := labContainer(t, lab.HostA, lab.Image, tc.primary, tc.addr)
			runFailover(t, pinger, c, tc.primary, tc.addr, standbyAddr, tc.failure.inject).check(t)
		})
	}
}

// failure is one way for the primary to die.
type failure struct {
	name   string
	inject func(t *testing.T, c *lxd.Client, name, addr string)
}

// failures are the failures every load run is tried with.
var failures = []failure{
	{"force-stop", func(t *testing.T, c *lxd.Client, name, _ string) {
		if err := c.Stop(context.Background(), name, 0); err != nil {
			t.Errorf("force-stop %s: %v", name, err)
		}
	}},
	{"blackhole", func(t *testing.T, _ *lxd.Client, _, addr string) { blackhole(t, addr) }},
}

// blackhole drops every packet from addr reaching the host or passing
// through it, until the test ends. Replies are dropped on the way in
// (INPUT), so sends succeed and answers never come, as on a dead network
// path; a DROP in OUTPUT would fail sends at once with EPERM instead.
func blackhole(t *testing.T, addr string) {
	rules := [][]string{
		{"INPUT", "-s", addr, "-j", "DROP"},
		{"FORWARD", "-s", addr, "-j", "DROP"},
		{"FORWARD", "-d", addr, "-j", "DROP"},
	}
	for _, r := range rules {
		t.Cleanup(func() {
			if out, err := exec.Command("iptables", append([]string{"-w", "-D"}, r...)...).CombinedOutput(); err != nil {
				t.Errorf("remove iptables rule %v: %v: %s", r, err, out)
			}
		})
		if out, err := exec.Command("iptables", append([]string{"-w", "-I"}, r...)...).CombinedOutput(); err != nil {
			t.Fatalf("add iptables rule %v: %v: %s", r, err, out)
		}
	}
}

func runFailover(t *testing.T, pinger Pinger, c *lxd.Client, name, addr, standbyAddr string,
	inject func(t *testing.T, c *lxd.Client, name, addr string)) loadStats {
	mon := &flipMonitor{
		current:  Placement{Service: "t-proxy", Where: "primary", Host: name, Address: netip.MustParseAddr(addr), Epoch: 1},
		standby:  Placement{Service: "t-proxy", Where: "standby", Host: "t-proxy-standby", Address: netip.MustParseAddr(standbyAddr), Epoch: 2},
		watchers: map[chan Placement]struct{}{},
	}
	ms := httptest.NewServer(mon)
	defer ms.Close()
	mc, _ := NewMonitorClient(ms.URL, nil)
	reg := prometheus.NewRegistry()
	p, err := New(Config{Services: []Service{{Name: "t-proxy", Host: "t-proxy.lab.test", Port: 80}}},
		Options{Monitor: mc, Pinger: pinger, Registerer: reg, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(ctx) }()
	defer func() { cancel(); <-done }()
	front := httptest.NewServer(p)
	defer front.Close()
	waitFor(t, "the first placement", func() bool { b, _ := p.byName["t-proxy"].current(); return b != nil })

	results, injected := loadWithFailure(t, front.URL, "t-proxy.lab.test", func() { mon.armed.Store(true); inject(t, c, name, addr) })
	st := summarize(results, injected, name)
	mon.mu.Lock()
	st.reported = mon.reported.Sub(injected)
	mon.mu.Unlock()
	st.held, st.holdSum = histStats(reg, "understudy_proxy_hold_seconds")
	st.probes, st.probeSum = histStats(reg, "understudy_proxy_probe_rtt_seconds")
	return st
}

// loadWithFailure runs the load generator for host against front and
// calls inject 500 ms into it. It returns every request and the injection
// time.
func loadWithFailure(t *testing.T, front, host string, inject func()) ([]loadResult, time.Time) {
	injectedAt := make(chan time.Time, 1)
	go func() {
		time.Sleep(500 * time.Millisecond)
		injectedAt <- time.Now()
		inject()
	}()
	results := runLoad(front, host, 4000, 6*time.Second)
	return results, <-injectedAt
}

// loadStats sums up one load run.
type loadStats struct {
	requests, failed, fromPrimary, fromStandby int
	p50, p99, max                              time.Duration
	// met are the requests that overlap the time from the injection to the
	// first answer from the standby: the ones that were held or retried.
	met            int
	metP99, metMax time.Duration
	firstStandby   time.Duration // from the injection to the first standby answer
	reported       time.Duration // from the injection to the suspect report (understudy only)
	held           uint64        // requests the proxy held
	holdSum        float64       // their total hold, seconds
	probes         uint64        // answered probes
	probeSum       float64       // their total RTT, seconds
	errors         []string      // the first few failures
}

func summarize(results []loadResult, injected time.Time, primary string) loadStats {
	var st loadStats
	var flipped time.Time
	for _, r := range results {
		if r.err == nil && r.status/100 == 2 && r.body != primary && r.start.After(injected) && (flipped.IsZero() || r.end.Before(flipped)) {
			flipped = r.end
		}
	}
	var all, met []time.Duration
	for _, r := range results {
		d := r.end.Sub(r.start)
		all = append(all, d)
		if r.end.After(injected) && (flipped.IsZero() || r.start.Before(flipped)) {
			met = append(met, d)
		}
		switch {
		case r.err != nil || r.status/100 != 2:
			st.failed++
			if len(st.errors) < 5 {
				st.errors = append(st.errors, fmt.Sprintf("status %d err %v body %q", r.status, r.err, r.body))
			}
		case r.body == primary:
			st.fromPrimary++
		default:
			st.fromStandby++
		}
	}
	slices.Sort(all)
	slices.Sort(met)
	st.requests, st.met = len(results), len(met)
	st.p50, st.p99, st.max = pct(all, .5), pct(all, .99), pct(all, 1)
	st.metP99, st.metMax = pct(met, .99), pct(met, 1)
	if !flipped.IsZero() {
		st.firstStandby = flipped.Sub(injected)
	}
	return st
}

func pct(s []time.Duration, q float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, int(float64(len(s))*q))]
}

// check fails the test when a request failed or one side never answered,
// and logs the numbers.
func (st loadStats) check(t *testing.T) {
	t.Helper()
	for _, e := range st.errors {
		t.Errorf("request failed: %s", e)
	}
	if st.failed > 0 {
		t.Errorf("%d of %d requests failed, want 0", st.failed, st.requests)
	}
	if st.fromStandby == 0 || st.fromPrimary == 0 {
		t.Errorf("answers: %d from the primary, %d from the standby; want both", st.fromPrimary, st.fromStandby)
	}
	st.log(t)
}

func (st loadStats) log(t *testing.T) {
	t.Helper()
	for _, e := range st.errors {
		t.Logf("failed request: %s", e)
	}
	t.Logf("%d requests, %d failed, %d from primary, %d from standby", st.requests, st.failed, st.fromPrimary, st.fromStandby)
	t.Logf("all requests: p50 %v p99 %v max %v", st.p50, st.p99, st.max)
	t.Logf("suspect reported %v, first standby answer %v after the injection", st.reported.Round(time.Microsecond), st.firstStandby.Round(time.Microsecond))
	t.Logf("requests that met the failure (%d): p99 %v max %v", st.met, st.metP99, st.metMax)
	t.Logf("held requests (proxy histogram): %d, mean hold %v", st.held, meanDur(st.holdSum, st.held))
	t.Logf("answered probes: %d, mean RTT %v", st.probes, meanDur(st.probeSum, st.probes))
}

// histStats reads a histogram's count and sum.
func histStats(reg *prometheus.Registry, name string) (uint64, float64) {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		var c uint64
		var s float64
		for _, m := range mf.GetMetric() {
			h := m.GetHistogram()
			c += h.GetSampleCount()
			s += h.GetSampleSum()
		}
		return c, s
	}
	return 0, 0
}

func meanDur(sum float64, n uint64) time.Duration {
	if n == 0 {
		return 0
	}
	return time.Duration(sum / float64(n) * float64(time.Second))
}
