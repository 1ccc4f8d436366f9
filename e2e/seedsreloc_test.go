package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// seedsRelocSecond is one second of the closed-loop load.
type seedsRelocSecond struct {
	T       int     `json:"t"` // seconds since the load began
	N       int     `json:"n"` // requests that ended in this second
	Errors  int     `json:"errors"`
	Standby int     `json:"standby"` // answers from the standby container
	MeanMS  float64 `json:"mean_ms"`
	P99MS   float64 `json:"p99_ms"`
	MaxMS   float64 `json:"max_ms"`
}

// seedsRelocRun is one run's figures, as bench/seeds-relocation.sh reads them.
type seedsRelocRun struct {
	Run           int     `json:"run"`
	Backend       string  `json:"backend"`
	Clients       int     `json:"clients"`
	Seconds       int     `json:"seconds"`
	FaultAtS      float64 `json:"fault_at_s"`
	RelocationS   float64 `json:"relocation_s"`            // fault -> first answer from the standby
	Errors        int     `json:"errors"`                  // failed requests, the whole run
	ErrorsAfter   int     `json:"errors_after"`            // failed requests after the fault
	FalseReroutes float64 `json:"false_reroutes"`          // reroutes before the fault
	Reroutes      float64 `json:"reroutes"`                // understudy_proxy_reroutes_total at the end
	Requests      int     `json:"requests"`                // requests answered
	P99BeforeMS   float64 `json:"p99_before_ms"`           // p99 of the last 10 s before the fault
	P99FaultMS    float64 `json:"p99_fault_s_ms"`          // p99 of the requests that ended within 1 s after the fault
	MaxMS         float64 `json:"max_ms"`                  // slowest answer
	Incidents     int     `json:"incidents_during"`        // the monitor opened during the run (want 0)
	LastIncident  string  `json:"last_incident,omitempty"` // the last one the run opened: source, result, why
	ReturnS       float64 `json:"return_s"`                // path restored (after the load) -> proxy back on the primary
	// ListenOverflows is the primary container's TcpExt ListenOverflows
	// over the run (SYNs its httpd's full accept queue dropped), -1 unread;
	// SynRetrans the host's TcpExt TCPSynRetrans (every SYN it resent, the
	// proxy's among them).
	ListenOverflows int64 `json:"listen_overflows"`
	SynRetrans      int64 `json:"host_syn_retrans"`
	// DialCleared is understudy_proxy_dial_timeouts_cleared_total over the
	// run: dial timeouts the proxy did not report (-1: a proxy without it).
	DialCleared float64            `json:"dial_timeouts_cleared"`
	Ended       string             `json:"ended"`          // UTC
	Loadavg     string             `json:"loadavg"`        // at the end of the load
	Series      []seedsRelocSecond `json:"series"`         // per second
	Errs        []string           `json:"errs,omitempty"` // the first few failures
}

// relocReq is one request of the load.
type relocReq struct {
	end     time.Duration // since the load began
	took    time.Duration
	ok      bool
	standby bool
	err     string
}

// BenchmarkSeedsRelocation is issue 20's experiment 4 (FastContainer's
// per-request relocation under load), a measurement rather than a test:
// bench/seeds-relocation.sh runs it with -benchtime 1x. The reroute world
// (TestIntegrationProxyReroute's: a warm busybox service with
// proxy-reroute: warm) under SEEDS_RELOC_CLIENTS (10) closed-loop clients
// through the in-process proxy for SEEDS_RELOC_SECONDS (100); at
// SEEDS_RELOC_FAULT_AT (50) s only the proxy's path to the primary is cut
// (iptables on its own source address) and stays cut. Every request is
// recorded; the run's figures and per-second series go to
// SEEDS_RELOC_OUT/run-*.json (default: a temporary directory, logged).
//
// SEEDS_RELOC_BACKEND picks the backend: static (the default: busybox
// httpd's index, the service's probe-timeout the proxy's 10 ms) or cgi
// (the image's /cgi-bin/burn?ms=SEEDS_RELOC_BURN_MS, 400, the service's
// probe-timeout 100 ms: the paper's WordPress case; 10 clients burning
// 400 ms each saturate the machine's 2 cores, which is the experiment).
func BenchmarkSeedsRelocation(b *testing.B) {
	out := os.Getenv("SEEDS_RELOC_OUT")
	if out == "" {
		out = b.TempDir()
		b.Logf("SEEDS_RELOC_OUT unset: the runs' figures go to %s", out)
	}
	runs := envInt(b, "SEEDS_RELOC_RUNS", 1)
	cfg := relocConfig{clients: envInt(b, "SEEDS_RELOC_CLIENTS", 10), secs: envInt(b, "SEEDS_RELOC_SECONDS", 100), faultAt: envInt(b, "SEEDS_RELOC_FAULT_AT", 50)}
	be := relocBackendOf(b)
	cfg.path, cfg.backend = be.path, be.name
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(runs)*(time.Duration(cfg.secs)*time.Second+time.Minute)+3*time.Minute)
	defer cancel()
	w, r := newRerouteWorldWith(ctx, b, be.serviceKeys)
	s := w.services[0]
	if be.path != "/" {
		st, err := r.service(ctx, s.Name)
		if err != nil {
			b.Fatal(err)
		}
		for _, addr := range []string{s.Address, st.Standby.Address} {
			if _, err := getPath(ctx, addr+":80", "/cgi-bin/burn?ms=1"); err != nil {
				b.Fatalf("%s serves no /cgi-bin/burn (an image older than busybox-burn.cgi: lab.sh up rebuilds it): %v", addr, err)
			}
		}
	}
	src := addProxySource(b, w.lab.HostA.Bridge)
	cfg.reg = prometheus.NewRegistry()
	cfg.url = w.startRerouteProxy(r.url, src, cfg.reg)
	cfg.host, cfg.standby = strings.TrimSuffix(s.FQDN, "."), s.Name
	cfg.rule = []string{"OUTPUT", "-s", src.String() + "/32", "-d", s.Address + "/32", "-m", "comment", "--comment", "t-e2e-rr", "-j", "DROP"}
	time.Sleep(2 * time.Second) // the proxy asks the monitor for the standby's address every second
	b.ResetTimer()
	for i := 1; i <= runs; i++ {
		incidents := 0
		if st, err := r.service(ctx, s.Name); err == nil {
			incidents = st.Incidents
		}
		overflows, retrans, cleared := w.netstat(ctx, s.VM, "ListenOverflows"), hostNetstat(b, "TCPSynRetrans"), gauge(cfg.reg, "understudy_proxy_dial_timeouts_cleared_total")
		run := relocOnce(ctx, b, cfg)
		run.Run = i
		run.ListenOverflows, run.SynRetrans, run.DialCleared = delta(overflows, w.netstat(ctx, s.VM, "ListenOverflows")), hostNetstat(b, "TCPSynRetrans")-retrans, -1
		if cleared >= 0 {
			run.DialCleared = gauge(cfg.reg, "understudy_proxy_dial_timeouts_cleared_total") - cleared
		}
		if st, err := r.service(ctx, s.Name); err == nil {
			run.Incidents = st.Incidents - incidents
			if inc := st.LastIncident; inc != nil && run.Incidents > 0 {
				run.LastIncident = fmt.Sprintf("%s, %s, %s: %s %s", inc.Source, inc.Result, inc.Disagreed, inc.Reason, inc.LastError)
			}
		}
		name := fmt.Sprintf("run-%s.json", time.Now().UTC().Format("20060102T150405.000"))
		bs, _ := json.MarshalIndent(run, "", "  ")
		if err := os.WriteFile(filepath.Join(out, name), bs, 0o644); err != nil {
			b.Fatal(err)
		}
		b.Logf("run %d: relocation %.3f s, %d errors (%d after the fault), %d answered, %v false reroutes, p99 before %.1f ms, in the fault's second %.1f ms, back %.3f s after the path; %d incidents, primary's listen overflows %d, host SYN retransmits %d, dial timeouts cleared %v; %s",
			i, run.RelocationS, run.Errors, run.ErrorsAfter, run.Requests, run.FalseReroutes, run.P99BeforeMS, run.P99FaultMS, run.ReturnS,
			run.Incidents, run.ListenOverflows, run.SynRetrans, run.DialCleared, name)
		b.ReportMetric(run.RelocationS, "relocation_s")
		b.ReportMetric(float64(run.ErrorsAfter), "errors")
	}
}

// relocConfig is what one run of the relocation load needs.
type relocConfig struct {
	clients, secs, faultAt int
	url, host, standby     string
	path, backend          string // the GET's path and query; the backend's description
	rule                   []string
	reg                    *prometheus.Registry
}

// relocOnce runs the load once: the path cut at faultAt, restored after
// the load; it waits for the proxy's return to the primary.
func relocOnce(ctx context.Context, b *testing.B, cfg relocConfig) seedsRelocRun {
	before := gauge(cfg.reg, "understudy_proxy_reroutes_total")
	start := time.Now()
	lctx, stop := context.WithDeadline(ctx, start.Add(time.Duration(cfg.secs)*time.Second))
	defer stop()
	per := make([][]relocReq, cfg.clients)
	var wg sync.WaitGroup
	for i := range cfg.clients {
		wg.Go(func() { per[i] = relocClient(lctx, start, cfg.url+cfg.path, cfg.host, cfg.standby) })
	}
	select {
	case <-time.After(time.Until(start.Add(time.Duration(cfg.faultAt) * time.Second))):
	case <-lctx.Done():
		b.Fatal("the load ended before the fault")
	}
	falseReroutes := gauge(cfg.reg, "understudy_proxy_reroutes_total") - before
	fault := time.Since(start)
	dropRule(b, cfg.rule, true)
	wg.Wait()
	restored := time.Now()
	dropRule(b, cfg.rule, false)
	waitUntil(ctx, b, "the proxy's return to the primary", func() bool { return gauge(cfg.reg, "understudy_proxy_rerouted") == 0 })
	run := summarizeReloc(per, fault)
	run.ReturnS = time.Since(restored).Seconds()
	run.Backend, run.Clients, run.Seconds = cfg.backend, cfg.clients, cfg.secs
	run.Ended, run.Loadavg = restored.UTC().Format(time.RFC3339), loadavg()
	run.FalseReroutes, run.Reroutes = falseReroutes, gauge(cfg.reg, "understudy_proxy_reroutes_total")-before
	return run
}

// relocClient sends GETs of url (the proxy's, with the path) without
// pause until ctx ends and records each; an answer whose first word is
// standbyName came from the standby container (the burn CGI answers the
// host name and its loop count).
func relocClient(ctx context.Context, start time.Time, url, host, standbyName string) []relocReq {
	cl := &http.Client{Timeout: 10 * time.Second}
	var out []relocReq
	for ctx.Err() == nil {
		t0 := time.Now()
		body, err := getURL(ctx, cl, url, host)
		end := time.Now()
		if ctx.Err() != nil {
			break
		}
		first, _, _ := strings.Cut(body, " ")
		q := relocReq{end: end.Sub(start), took: end.Sub(t0), ok: err == nil, standby: first == standbyName}
		if err != nil {
			q.err = err.Error()
		}
		out = append(out, q)
	}
	return out
}

// summarizeReloc turns the clients' records into a run's figures.
func summarizeReloc(per [][]relocReq, fault time.Duration) seedsRelocRun {
	var all []relocReq
	for _, p := range per {
		all = append(all, p...)
	}
	slices.SortFunc(all, func(a, b relocReq) int { return int(a.end - b.end) })
	run := seedsRelocRun{FaultAtS: fault.Seconds(), RelocationS: -1}
	var before, inFault []float64
	bySec := map[int][]relocReq{}
	for _, q := range all {
		ms := float64(q.took) / 1e6
		bySec[int(q.end/time.Second)] = append(bySec[int(q.end/time.Second)], q)
		switch {
		case !q.ok:
			run.Errors++
			if q.end >= fault {
				run.ErrorsAfter++
			}
			if len(run.Errs) < 5 {
				run.Errs = append(run.Errs, q.err)
			}
			continue
		}
		run.Requests++
		run.MaxMS = math.Max(run.MaxMS, ms)
		if q.end < fault && q.end >= fault-10*time.Second {
			before = append(before, ms)
		}
		if q.end >= fault && q.end < fault+time.Second {
			inFault = append(inFault, ms)
		}
		if q.standby && q.end >= fault && run.RelocationS < 0 {
			run.RelocationS = (q.end - fault).Seconds()
		}
	}
	run.P99BeforeMS, run.P99FaultMS = p99(before), p99(inFault)
	secs := slices.Sorted(func(yield func(int) bool) {
		for k := range bySec {
			if !yield(k) {
				return
			}
		}
	})
	for _, sec := range secs {
		qs := bySec[sec]
		var ms []float64
		row := seedsRelocSecond{T: sec, N: len(qs)}
		for _, q := range qs {
			if !q.ok {
				row.Errors++
				continue
			}
			if q.standby {
				row.Standby++
			}
			ms = append(ms, float64(q.took)/1e6)
		}
		for _, v := range ms {
			row.MeanMS += v / float64(len(ms))
		}
		row.P99MS = p99(ms)
		if len(ms) > 0 {
			row.MaxMS = slices.Max(ms)
		}
		run.Series = append(run.Series, row)
	}
	return run
}

// p99 is the 99th percentile (nearest rank) of v, 0 for none.
func p99(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	return v[int(math.Ceil(0.99*float64(len(v))))-1]
}

// relocBackend is one backend arm of the relocation benchmark.
type relocBackend struct {
	name, path  string
	serviceKeys string // inventory lines added to the service
}

// relocBackendOf reads SEEDS_RELOC_BACKEND (static or cgi) and, for cgi,
// SEEDS_RELOC_BURN_MS.
func relocBackendOf(t testing.TB) relocBackend {
	t.Helper()
	switch v := os.Getenv("SEEDS_RELOC_BACKEND"); v {
	case "", "static":
		return relocBackend{name: "busybox httpd (static)", path: "/"}
	case "cgi":
		ms := envInt(t, "SEEDS_RELOC_BURN_MS", 400)
		return relocBackend{
			name:        fmt.Sprintf("busybox CGI burning %d ms of CPU per request, probe-timeout 100ms", ms),
			path:        fmt.Sprintf("/cgi-bin/burn?ms=%d", ms),
			serviceKeys: "    probe-timeout: 100ms\n",
		}
	default:
		t.Fatalf("SEEDS_RELOC_BACKEND=%q: want static or cgi", v)
		return relocBackend{}
	}
}

// netstat reads a TcpExt field of /proc/net/netstat in the container name
// on host-a (its own network namespace); -1 when it cannot be read.
func (w *world) netstat(ctx context.Context, name, field string) int64 {
	res, err := w.hostA.Exec(ctx, name, []string{"cat", "/proc/net/netstat"}, nil)
	if err != nil || res.ExitCode != 0 {
		w.t.Logf("read /proc/net/netstat in %s: %v (exit %d)", name, err, res.ExitCode)
		return -1
	}
	return netstatField(string(res.Stdout), field)
}

// hostNetstat reads a TcpExt field of this host's /proc/net/netstat; -1
// when it cannot be read.
func hostNetstat(t testing.TB, field string) int64 {
	bs, err := os.ReadFile("/proc/net/netstat")
	if err != nil {
		t.Logf("read /proc/net/netstat: %v", err)
		return -1
	}
	return netstatField(string(bs), field)
}

// netstatField is field's value in /proc/net/netstat's TcpExt section (a
// line of names, then a line of values), -1 when it is missing.
func netstatField(text, field string) int64 {
	var names []string
	for line := range strings.Lines(text) {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "TcpExt:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		if i := slices.Index(names, field); i > 0 && i < len(f) {
			if n, err := strconv.ParseInt(f[i], 10, 64); err == nil {
				return n
			}
		}
		return -1
	}
	return -1
}

// delta is after - before, -1 when either is unknown.
func delta(before, after int64) int64 {
	if before < 0 || after < 0 {
		return -1
	}
	return after - before
}

func TestNetstatField(t *testing.T) {
	const text = "TcpExt: SyncookiesSent ListenOverflows TCPSynRetrans\nTcpExt: 0 17 23\nIpExt: InNoRoutes\nIpExt: 3\n"
	for field, want := range map[string]int64{"ListenOverflows": 17, "TCPSynRetrans": 23, "Missing": -1} {
		if got := netstatField(text, field); got != want {
			t.Errorf("netstatField(%s) = %d, want %d", field, got, want)
		}
	}
	if got := delta(-1, 5); got != -1 {
		t.Errorf("delta(-1, 5) = %d, want -1", got)
	}
}

// loadavg is /proc/loadavg's three averages, "" when unread.
func loadavg() string {
	bs, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	return strings.Join(strings.Fields(string(bs))[:3], " ")
}
