package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/understudy/understudy/internal/icmp"
	"github.com/understudy/understudy/internal/labtest"
	"github.com/understudy/understudy/lxd"
)

// rttSweep is the timeout sweep of issue 20's experiment 4: 1, 10 and
// 100 ms (FastContainer's static site used 10 ms, its WordPress 100 ms).
var rttSweep = []time.Duration{time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond}

// rttSampleTimeout bounds the echo whose RTT is the distribution's sample:
// long enough that no healthy answer is cut.
const rttSampleTimeout = time.Second

// rttMiss is one timeout of the sweep: its echoes and those unanswered
// within it (all false misses: the backend is healthy throughout).
type rttMiss struct {
	TimeoutMS float64 `json:"timeout_ms"`
	Sent      int     `json:"sent"`
	Misses    int     `json:"false_misses"`
}

// rttCondition is one condition's raw results.
type rttCondition struct {
	Name         string    `json:"name"`
	Load         string    `json:"load"`
	Rounds       int       `json:"rounds"`
	Lost         int       `json:"lost"` // sample echoes unanswered within rttSampleTimeout
	P50US        float64   `json:"p50_us"`
	P99US        float64   `json:"p99_us"`
	MeanUS       float64   `json:"mean_us"`
	MaxUS        float64   `json:"max_us"`
	Sweep        []rttMiss `json:"sweep"`
	LoadRequests int64     `json:"load_requests,omitempty"`
	LoadErrors   int64     `json:"load_errors,omitempty"`
	LoadSlowMS   float64   `json:"load_slowest_ms,omitempty"`
	Suspects     float64   `json:"proxy_suspects,omitempty"` // the loading proxy's holds (understudy_proxy_suspects_total)
	Reports      int       `json:"proxy_reports,omitempty"`  // of them, reported to its (fake) monitor
	ReportWhy    []string  `json:"proxy_report_reasons,omitempty"`
	// ListenOverflows is the container's TcpExt ListenOverflows over the
	// condition: SYNs its httpd's full accept queue dropped.
	ListenOverflows int64     `json:"listen_overflows"`
	LoadavgEnd      string    `json:"loadavg_end"`
	SamplesUS       []float64 `json:"samples_us"`
}

// rttReport is what bench/results/seeds-rtt.json holds.
type rttReport struct {
	Date       time.Time      `json:"date"`
	Nproc      int            `json:"nproc"`
	LoadStart  string         `json:"loadavg_start"`
	Target     string         `json:"target"`
	Probes     int            `json:"probes_per_condition"`
	GapMS      float64        `json:"gap_ms"`
	Conditions []rttCondition `json:"conditions"`
}

// rttLoad is a condition's load: 10 closed-loop clients GETting path
// through a probing proxy whose service has probeTimeout; an empty path
// is no load.
type rttLoad struct {
	name, path   string
	probeTimeout time.Duration
}

// BenchmarkSeedsRTTLab is issue 20's probe measurement (FastContainer's
// 1,000 ICMP probes, mean about 1 ms, max about 16 ms): SEEDS_RTT_N
// (1000) rounds per condition against a healthy lab container, each round
// one echo with a 1 s timeout (the RTT sample) and one echo per timeout of
// the sweep (1, 10, 100 ms), every unanswered one a false miss, then
// SEEDS_RTT_GAP_MS (10) of pause. The echoes are internal/icmp's, the
// proxy's probe, from a Pinger of their own (so they never join the
// loading proxy's echoes). Conditions: idle; load-static (10 closed-loop
// clients through a probing proxy to the container's httpd, as in
// BenchmarkSeedsRelocation); load-cgi (the same clients on
// /cgi-bin/burn?ms=400, probe-timeout 100 ms: 2 cores saturated). Run with
// -benchtime 1x; UNDERSTUDY_BENCH_RESULTS=dir writes dir/seeds-rtt.json.
func BenchmarkSeedsRTTLab(b *testing.B) {
	lab := labtest.Require(b)
	sweep, err := icmp.New()
	if err != nil {
		labtest.Skip(b, "the probe needs a raw ICMP socket (root): %v", err)
	}
	b.Cleanup(func() { sweep.Close() })
	loader, err := icmp.New()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { loader.Close() })
	c := labContainer(b, lab.HostA, lab.Image, probeLabName, probeLabAddr)
	rep := &rttReport{Date: time.Now().UTC(), Nproc: runtime.NumCPU(), LoadStart: loadavg(),
		Target: probeLabName + " at " + probeLabAddr + " (busybox container on host-a)",
		Probes: rttEnvInt(b, "SEEDS_RTT_N", 1000), GapMS: float64(rttEnvInt(b, "SEEDS_RTT_GAP_MS", 10))}
	addr := netip.MustParseAddr(probeLabAddr)
	loads := []rttLoad{{name: "idle"}, {name: "load-static", path: "/", probeTimeout: DefaultProbeTimeout},
		{name: "load-cgi", path: "/cgi-bin/burn?ms=400", probeTimeout: 100 * time.Millisecond}}
	b.ResetTimer()
	for _, l := range loads {
		cond := rttUnder(b, l, c, addr, sweep, loader, rep)
		b.Logf("%s: %d rounds, RTT p50 %.0f µs, p99 %.0f µs, mean %.0f µs, max %.0f µs, false misses %v, listen overflows %d, load %d requests (%d errors)",
			cond.Name, cond.Rounds, cond.P50US, cond.P99US, cond.MeanUS, cond.MaxUS, cond.Sweep, cond.ListenOverflows, cond.LoadRequests, cond.LoadErrors)
		rep.Conditions = append(rep.Conditions, cond)
	}
	if dir := os.Getenv("UNDERSTUDY_BENCH_RESULTS"); dir != "" {
		if err := rep.write(filepath.Join(dir, "seeds-rtt")); err != nil {
			b.Errorf("write the results: %v", err)
		}
	}
}

// rttUnder runs one condition: its load (if any) and the rounds of probes.
func rttUnder(b *testing.B, l rttLoad, c *lxd.Client, addr netip.Addr, sweep, loader *icmp.Pinger, rep *rttReport) rttCondition {
	cond := rttCondition{Name: l.name, Load: "none"}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	overflows := listenOverflows(ctx, b, c)
	var lg *loadGen
	if l.path != "" {
		cond.Load = fmt.Sprintf("10 closed-loop clients GET %s through a probing proxy (probe-timeout %s)", l.path, l.probeTimeout)
		lg = startLoadGen(ctx, b, netip.AddrPortFrom(addr, 80), loader, l)
		time.Sleep(2 * time.Second) // the load settles
	}
	var rtts []time.Duration
	cond.Sweep = make([]rttMiss, len(rttSweep))
	gap := time.Duration(rep.GapMS) * time.Millisecond
	for range rep.Probes {
		if ctx.Err() != nil {
			b.Errorf("%s: the condition's 3 minutes ran out after %d rounds", l.name, cond.Rounds)
			break
		}
		if rtt, err := pingWithin(sweep, addr, rttSampleTimeout); err != nil {
			cond.Lost++
		} else {
			rtts = append(rtts, rtt)
		}
		for i, to := range rttSweep {
			cond.Sweep[i].TimeoutMS, cond.Sweep[i].Sent = float64(to)/1e6, cond.Sweep[i].Sent+1
			if _, err := pingWithin(sweep, addr, to); err != nil {
				cond.Sweep[i].Misses++
			}
		}
		cond.Rounds++
		time.Sleep(gap)
	}
	if lg != nil {
		lg.stop()
		cond.LoadRequests, cond.LoadErrors, cond.LoadSlowMS = lg.requests.Load(), lg.errors.Load(), float64(lg.slowest.Load())/1e6
		cond.Suspects = lg.suspects()
		cond.ReportWhy = lg.mon.reasons()
		cond.Reports = len(cond.ReportWhy)
	}
	cond.ListenOverflows = listenOverflows(ctx, b, c) - overflows
	cond.LoadavgEnd = loadavg()
	st := variantStats(l.name, rtts)
	cond.P50US, cond.P99US, cond.MeanUS, cond.SamplesUS = st.P50US, st.P99US, st.MeanUS, st.SamplesUS
	if len(rtts) > 0 {
		cond.MaxUS = us(slices.Max(rtts))
	}
	return cond
}

// loadGen is a condition's load: closed-loop clients through a proxy.
type loadGen struct {
	requests, errors, slowest atomic.Int64
	cancel                    context.CancelFunc
	wg                        sync.WaitGroup
	p                         *Proxy
	mon                       *fakeMonitor
}

// startLoadGen starts a probing proxy to ap (service web.test, the
// condition's probe timeout) and 10 closed-loop clients GETting l.path.
func startLoadGen(ctx context.Context, b *testing.B, ap netip.AddrPort, pinger Pinger, l rttLoad) *loadGen {
	mon := newFakeMonitor(Placement{Service: "web", Address: ap.Addr(), Epoch: 1})
	mon.onReport = func(_ string, r SuspectReport) { mon.addReason(r.Reason) }
	p, err := New(Config{Services: []Service{{Name: "web", Host: "web.test", Port: int(ap.Port()), ProbeTimeout: l.probeTimeout}}},
		Options{Monitor: mon, Pinger: pinger, Registerer: prometheus.NewRegistry(), Logger: discardLogger()})
	if err != nil {
		b.Fatal(err)
	}
	lctx, cancel := context.WithCancel(ctx)
	g := &loadGen{cancel: cancel, p: p, mon: mon}
	g.wg.Go(func() { _ = p.Run(lctx) })
	front := httptest.NewServer(p)
	b.Cleanup(front.Close)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	for range 10 {
		g.wg.Go(func() {
			for lctx.Err() == nil {
				took, err := timedGetURL(client, front.URL+l.path)
				switch {
				case lctx.Err() != nil:
				case err != nil:
					g.errors.Add(1)
				default:
					g.requests.Add(1)
					if int64(took) > g.slowest.Load() {
						g.slowest.Store(int64(took))
					}
				}
			}
		})
	}
	return g
}

// stop ends the load and waits for its clients and its proxy.
func (g *loadGen) stop() {
	g.cancel()
	g.wg.Wait()
}

// suspects sums the proxy's understudy_proxy_suspects_total.
func (g *loadGen) suspects() float64 {
	var n float64
	for _, by := range []string{"probe", "connection"} {
		n += value(g.p.m.suspects.WithLabelValues("web", by))
	}
	return n
}

// listenOverflows reads TcpExt ListenOverflows in the container (its own
// network namespace); -1 when it cannot be read.
func listenOverflows(ctx context.Context, b *testing.B, c *lxd.Client) int64 {
	res, err := c.Exec(ctx, probeLabName, []string{"cat", "/proc/net/netstat"}, nil)
	if err != nil || res.ExitCode != 0 {
		b.Logf("read the container's /proc/net/netstat: %v (exit %d)", err, res.ExitCode)
		return -1
	}
	n, ok := netstatField(string(res.Stdout), "TcpExt:", "ListenOverflows")
	if !ok {
		return -1
	}
	return n
}

// netstatField is the value of field in /proc/net/netstat's section
// (a header line of names, then a line of values, both led by section).
func netstatField(text, section, field string) (int64, bool) {
	var names []string
	for line := range strings.Lines(text) {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != section {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		if i := slices.Index(names, field); i > 0 && i < len(f) {
			n, err := strconv.ParseInt(f[i], 10, 64)
			return n, err == nil
		}
		return 0, false
	}
	return 0, false
}

// rttEnvInt reads a positive whole number from the environment.
func rttEnvInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive whole number", name, v)
	}
	return n
}

// write writes base.json (raw samples) and base.md (the table).
func (r *rttReport) write(base string) error {
	raw, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	if err := os.WriteFile(base+".json", append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return os.WriteFile(base+".md", []byte(r.markdown()), 0o644)
}

// markdown is the results' table, the paper's figures beside ours.
func (r *rttReport) markdown() string {
	var b strings.Builder
	b.WriteString("# seeds-rtt: the proxy's probe, 1,000 echoes idle and under load, and a timeout sweep (FastContainer, issue 20 experiment 4)\n\n")
	b.WriteString("Written by `bash bench/seeds-rtt.sh` (`BenchmarkSeedsRTTLab`); raw samples in `seeds-rtt.json`.\n\n")
	fmt.Fprintf(&b, "%s, nproc %d, load average %s at the start; target %s, healthy throughout (so every miss is a false miss). "+
		"Each round: one echo with a 1 s timeout (the RTT sample), then one echo per timeout of the sweep, then %.0f ms of pause; "+
		"internal/icmp's echoes (the proxy's probe) from a Pinger of their own.\n\n",
		r.Date.Format(time.RFC3339), r.Nproc, r.LoadStart, r.Target, r.GapMS)
	b.WriteString("| condition | rounds | RTT p50 | RTT p99 | RTT mean | RTT max | false misses at 1 ms | at 10 ms | at 100 ms | listen overflows | load: answered (errors, slowest) | the loading proxy's holds (reported) | load average at the end |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	b.WriteString("| paper: 1,000 ICMP probes | 1000 | — | — | about 1 ms | about 16 ms | — | — | — | — | — | — | — |\n")
	for _, c := range r.Conditions {
		miss := make([]string, len(c.Sweep))
		for i, m := range c.Sweep {
			miss[i] = fmt.Sprintf("%d / %d", m.Misses, m.Sent)
		}
		load, holds := "—", "—"
		if c.LoadRequests > 0 || c.LoadErrors > 0 {
			load = fmt.Sprintf("%d (%d, %.0f ms)", c.LoadRequests, c.LoadErrors, c.LoadSlowMS)
			holds = fmt.Sprintf("%.0f (%d)", c.Suspects, c.Reports)
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s | %d | %s | %s | %s |\n", c.Name, c.Rounds,
			rttMS(c.P50US), rttMS(c.P99US), rttMS(c.MeanUS), rttMS(c.MaxUS), strings.Join(miss, " | "), c.ListenOverflows, load, holds, c.LoadavgEnd)
	}
	b.WriteString("\nConditions: ")
	for i, c := range r.Conditions {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: %s", c.Name, c.Load)
	}
	b.WriteString(". Listen overflows: the container's TcpExt ListenOverflows over the condition (SYNs dropped because busybox httpd's accept queue, `listen(fd, 9)`, was full).\n")
	return b.String()
}

// rttMS formats microseconds as milliseconds.
func rttMS(us float64) string { return strconv.FormatFloat(us/1000, 'f', 3, 64) + " ms" }

// addReason records a suspect report's reason (the fake monitor's
// onReport hook, called without its lock held).
func (m *fakeMonitor) addReason(r string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.why = append(m.why, r)
}

// reasons is the reports' reasons so far.
func (m *fakeMonitor) reasons() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.why)
}
