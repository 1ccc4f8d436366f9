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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/icmp"
	"github.com/understudy/understudy/internal/labtest"
)

// The probe benchmark's own lab container (the proxy's range on host-a).
const (
	probeLabName = "t-proxy-probe"
	probeLabAddr = "10.200.0.180"
)

// probeLabVariant is one variant's raw results.
type probeLabVariant struct {
	Name      string    `json:"name"`
	Requests  int       `json:"requests"`
	ProbesOut int       `json:"probes_sent"` // answered + missed probes the proxy sent
	Misses    int       `json:"probe_misses"`
	P50US     float64   `json:"p50_us"`
	P99US     float64   `json:"p99_us"`
	MeanUS    float64   `json:"mean_us"`
	SamplesUS []float64 `json:"samples_us"`
}

// probeLabReport is what bench/results/proxy-probe.json holds.
type probeLabReport struct {
	Date      time.Time         `json:"date"`
	Nproc     int               `json:"nproc"`
	LoadStart string            `json:"loadavg_start"`
	LoadEnd   string            `json:"loadavg_end"`
	Target    string            `json:"target"`
	Probe     probeLabVariant   `json:"icmp_probe"`
	Requests  []probeLabVariant `json:"get_through_the_proxy"`
}

// BenchmarkProbeLab measures what the per-request probe costs against a
// lab container (a busybox container on host-a's bridge, not loopback):
//
//   - icmp: one internal/icmp echo to the container, its RTT;
//   - get: GETs from 10 concurrent clients through this proxy to the
//     container's httpd, alternating between a proxy without a probe and
//     one with the ICMP probe, and how many probes the probing proxy sent
//     per request (GETs share the probe in flight and reuse an answer
//     younger than Config.ProbeFresh).
//
// With UNDERSTUDY_BENCH_RESULTS=dir (bench/proxy-probe.sh sets it) it
// writes dir/proxy-probe.json (raw samples) and dir/proxy-probe.md.
func BenchmarkProbeLab(b *testing.B) {
	lab := labtest.Require(b)
	pinger, err := icmp.New()
	if err != nil {
		labtest.Skip(b, "the probe needs a raw ICMP socket (root): %v", err)
	}
	b.Cleanup(func() { pinger.Close() })
	labContainer(b, lab.HostA, lab.Image, probeLabName, probeLabAddr)
	rep := &probeLabReport{Date: time.Now().UTC(), Nproc: runtime.NumCPU(), LoadStart: loadavg(),
		Target: probeLabName + " at " + probeLabAddr + " (busybox container on host-a)"}
	addr := netip.MustParseAddr(probeLabAddr)

	b.Run("icmp", func(b *testing.B) {
		var rtts []time.Duration
		for b.Loop() {
			ctx, cancel := context.WithTimeout(context.Background(), DefaultProbeTimeout)
			rtt, err := pinger.Ping(ctx, addr)
			cancel()
			if err != nil {
				b.Fatalf("probe of the lab container: %v", err)
			}
			rtts = append(rtts, rtt)
		}
		rep.Probe = variantStats("icmp echo", rtts)
		b.ReportMetric(rep.Probe.P50US, "p50-µs")
		b.ReportMetric(rep.Probe.P99US, "p99-µs")
	})
	b.Run("get", func(b *testing.B) {
		rep.Requests = probeLabGets(b, netip.AddrPortFrom(addr, 80), pinger)
		for _, v := range rep.Requests {
			b.ReportMetric(v.P50US, v.Name+"-p50-µs")
			b.ReportMetric(v.P99US, v.Name+"-p99-µs")
		}
	})
	if dir := os.Getenv("UNDERSTUDY_BENCH_RESULTS"); dir != "" && len(rep.Requests) > 0 {
		rep.LoadEnd = loadavg()
		if err := rep.write(filepath.Join(dir, "proxy-probe")); err != nil {
			b.Errorf("write the results: %v", err)
		}
	}
}

// probeLabGets runs b.N GETs per variant through a proxy without a probe
// and one with pinger, interleaved, from 10 concurrent clients.
func probeLabGets(b *testing.B, ap netip.AddrPort, pinger Pinger) []probeLabVariant {
	proxies := []*Proxy{benchProxy(b, ap, nil).(*Proxy), benchProxy(b, ap, pinger).(*Proxy)}
	names := []string{"no-probe", "icmp-probe"}
	fronts := make([]*httptest.Server, len(proxies))
	for i, p := range proxies {
		fronts[i] = httptest.NewServer(p)
		defer fronts[i].Close()
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	lat := make([][]time.Duration, len(proxies))
	var mu sync.Mutex
	var wg sync.WaitGroup
	jobs := make(chan int)
	for range 10 {
		wg.Go(func() {
			local := make([][]time.Duration, len(proxies))
			for v := range jobs {
				took, err := timedGet(client, fronts[v].URL)
				if err != nil {
					b.Errorf("%s: %v", names[v], err)
					continue
				}
				local[v] = append(local[v], took)
			}
			mu.Lock()
			for v := range local {
				lat[v] = append(lat[v], local[v]...)
			}
			mu.Unlock()
		})
	}
	for b.Loop() {
		for v := range proxies {
			jobs <- v
		}
	}
	close(jobs)
	wg.Wait()
	out := make([]probeLabVariant, len(proxies))
	for v, p := range proxies {
		out[v] = variantStats(names[v], lat[v])
		answered := value(p.m.probeRTT)
		misses := value(p.m.probeMisses.WithLabelValues("web"))
		out[v].ProbesOut, out[v].Misses = int(answered+misses), int(misses)
	}
	return out
}

func variantStats(name string, d []time.Duration) probeLabVariant {
	v := probeLabVariant{Name: name, Requests: len(d)}
	if len(d) == 0 {
		return v
	}
	s := slices.Clone(d)
	slices.Sort(s)
	var sum time.Duration
	for _, x := range d {
		sum += x
		v.SamplesUS = append(v.SamplesUS, us(x))
	}
	v.P50US, v.P99US = us(s[len(s)/2]), us(s[min(len(s)-1, len(s)*99/100)])
	v.MeanUS = us(sum / time.Duration(len(d)))
	return v
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }

// write writes base.json (raw samples) and base.md (summary).
func (r *probeLabReport) write(base string) error {
	raw, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	if err := os.WriteFile(base+".json", append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	var b strings.Builder
	b.WriteString("# The proxy's probe against a lab container\n\n")
	b.WriteString("Written by `bench/proxy-probe.sh` (`BenchmarkProbeLab`); raw samples in `proxy-probe.json`.\n\n")
	fmt.Fprintf(&b, "- date: %s\n- nproc: %d\n- load average: %s at the start, %s at the end\n- target: %s\n\n",
		r.Date.Format(time.RFC3339), r.Nproc, r.LoadStart, r.LoadEnd, r.Target)
	b.WriteString("| what | count | p50 | p99 | mean | probes sent (misses) | probes per request |\n|---|---|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| one ICMP echo (internal/icmp) | %d | %.0f µs | %.0f µs | %.0f µs | | |\n",
		r.Probe.Requests, r.Probe.P50US, r.Probe.P99US, r.Probe.MeanUS)
	for _, v := range r.Requests {
		per := ""
		if v.Requests > 0 && v.ProbesOut > 0 {
			per = fmt.Sprintf("%.2f", float64(v.ProbesOut)/float64(v.Requests))
		}
		fmt.Fprintf(&b, "| GET through the proxy, %s | %d | %.0f µs | %.0f µs | %.0f µs | %d (%d) | %s |\n",
			v.Name, v.Requests, v.P50US, v.P99US, v.MeanUS, v.ProbesOut, v.Misses, per)
	}
	if len(r.Requests) == 2 && r.Requests[0].MeanUS > 0 {
		fmt.Fprintf(&b, "\nMean GET latency with the probe / without: %.3f (10 concurrent clients, the two proxies interleaved).\n",
			r.Requests[1].MeanUS/r.Requests[0].MeanUS)
	}
	return os.WriteFile(base+".md", []byte(b.String()), 0o644)
}
