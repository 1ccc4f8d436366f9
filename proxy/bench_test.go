package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	probing "github.com/prometheus-community/pro-bing"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/understudy/understudy/internal/icmp"
	"github.com/understudy/understudy/internal/labtest"
)

// BenchmarkThroughput compares, in one run, a plain httputil.ReverseProxy
// with this proxy (without a probe, and with the real ICMP probe when run
// as root) in front of the same loopback backend, at concurrency 10. It
// reports p50 and p99 latency; compare ns/op between the sub-benchmarks
// for the throughput ratio.
func BenchmarkThroughput(b *testing.B) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "hello from the backend\n")
	}))
	defer backend.Close()
	u, _ := url.Parse(backend.URL)
	ap := netip.MustParseAddrPort(u.Host)

	b.Run("plain", func(b *testing.B) {
		rp := httputil.NewSingleHostReverseProxy(u)
		rp.Transport = &http.Transport{MaxIdleConnsPerHost: 256}
		benchFront(b, rp)
	})
	b.Run("understudy-noprobe", func(b *testing.B) {
		benchFront(b, benchProxy(b, ap, nil))
	})
	b.Run("understudy-icmp", func(b *testing.B) {
		pinger, err := icmp.New()
		if err != nil {
			b.Skipf("skipping: needs root for the raw ICMP socket: %v", err)
		}
		defer pinger.Close()
		benchFront(b, benchProxy(b, ap, pinger))
	})
}

// benchProxy returns a running proxy routing web.test to ap.
func benchProxy(b *testing.B, ap netip.AddrPort, pinger Pinger) http.Handler {
	mon := newFakeMonitor(Placement{Service: "web", Address: ap.Addr(), Epoch: 1})
	p, err := New(Config{Services: []Service{{Name: "web", Host: "web.test", Port: int(ap.Port())}}},
		Options{Monitor: mon, Pinger: pinger, Registerer: prometheus.NewRegistry(), Logger: discardLogger()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	for {
		if s, _ := p.byName["web"].current(); s != nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	return p
}

// benchFront serves h and hits it with 10 concurrent clients.
func benchFront(b *testing.B, h http.Handler) {
	front := httptest.NewServer(h)
	defer front.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(max(1, 10/runtimeProcs()))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 1024)
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, front.URL+"/", nil)
			req.Host = "web.test"
			start := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			local = append(local, time.Since(start))
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
		mu.Lock()
		lat = append(lat, local...)
		mu.Unlock()
	})
	b.StopTimer()
	reportPercentiles(b, lat)
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkProbe measures one probe: internal/icmp's shared raw socket
// against pro-bing's Run() (a socket and goroutines per probe), to
// loopback and, with PROXY_BENCH_PING=addr, to another address (a lab
// container).
func BenchmarkProbe(b *testing.B) {
	targets := []string{"127.0.0.1"}
	if a := os.Getenv("PROXY_BENCH_PING"); a != "" {
		targets = append(targets, a)
	}
	for _, target := range targets {
		addr := netip.MustParseAddr(target)
		b.Run("icmp/"+target, func(b *testing.B) {
			p, err := icmp.New()
			if err != nil {
				b.Skipf("skipping: needs root: %v", err)
			}
			defer p.Close()
			ctx := context.Background()
			for b.Loop() {
				pctx, cancel := context.WithTimeout(ctx, DefaultProbeTimeout)
				_, err := p.Ping(pctx, addr)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("pro-bing/"+target, func(b *testing.B) {
			for b.Loop() {
				if err := proBingOnce(target, DefaultProbeTimeout); err != nil {
					b.Skipf("skipping: pro-bing cannot probe here: %v", err)
				}
			}
		})
	}
}

// proBingOnce sends one echo with pro-bing v0.9.1 as a per-request probe
// would: a new Pinger per probe.
func proBingOnce(target string, timeout time.Duration) error {
	pg, err := probing.NewPinger(target)
	if err != nil {
		return err
	}
	pg.SetPrivileged(true)
	pg.Count = 1
	pg.Timeout = timeout
	if err := pg.Run(); err != nil {
		return err
	}
	if pg.Statistics().PacketsRecv != 1 {
		return fmt.Errorf("no reply from %s within %s", target, timeout)
	}
	return nil
}

// BenchmarkProbeMiss measures what a miss costs with the default 10 ms
// timeout: internal/icmp against pro-bing, probing an unused address on
// the lab's host-a bridge (10.200.0.189, in the proxy's range; the HAProxy
// comparison's primary uses it only while it runs), where no echo reply
// ever comes.
func BenchmarkProbeMiss(b *testing.B) {
	labtest.Require(b)
	const target = "10.200.0.189"
	addr := netip.MustParseAddr(target)
	b.Run("icmp", func(b *testing.B) {
		p, err := icmp.New()
		if err != nil {
			b.Skipf("skipping: needs root: %v", err)
		}
		defer p.Close()
		for b.Loop() {
			ctx, cancel := context.WithTimeout(context.Background(), DefaultProbeTimeout)
			_, err := p.Ping(ctx, addr)
			cancel()
			if err == nil {
				b.Fatalf("%s answered; it must be unused", target)
			}
		}
	})
	b.Run("pro-bing", func(b *testing.B) {
		for b.Loop() {
			if err := proBingOnce(target, DefaultProbeTimeout); err == nil {
				b.Fatalf("%s answered; it must be unused", target)
			}
		}
	})
}

// BenchmarkInterleaved sends requests round-robin through a plain
// httputil.ReverseProxy, this proxy without a probe and this proxy with
// the ICMP probe (when root), all to the same loopback backend, from 10
// concurrent clients. Interleaving makes the comparison fair on a busy
// machine: every variant sees the same contention. It reports each
// variant's p50/p99 and its throughput relative to the plain proxy
// (closed-loop clients: throughput ratio = plain mean latency / mean
// latency; the goal is ≥ 0.9).
func BenchmarkInterleaved(b *testing.B) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "hello from the backend\n")
	}))
	defer backend.Close()
	u, _ := url.Parse(backend.URL)
	ap := netip.MustParseAddrPort(u.Host)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 256}
	variants := []struct {
		name string
		h    http.Handler
	}{{"plain", rp}, {"noprobe", benchProxy(b, ap, nil)}}
	if pinger, err := icmp.New(); err == nil {
		defer pinger.Close()
		variants = append(variants, struct {
			name string
			h    http.Handler
		}{"icmp", benchProxy(b, ap, pinger)})
	} else {
		b.Logf("no icmp variant: %v", err)
	}
	fronts := make([]*httptest.Server, len(variants))
	for i, v := range variants {
		fronts[i] = httptest.NewServer(v.h)
		defer fronts[i].Close()
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var mu sync.Mutex
	lat := make([][]time.Duration, len(variants))
	b.SetParallelism(max(1, 10/runtimeProcs()))
	b.ResetTimer()
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		local := make([][]time.Duration, len(variants))
		for pb.Next() {
			v := int(next.Add(1)-1) % len(variants)
			took, err := timedGet(client, fronts[v].URL)
			if err != nil {
				b.Error(err)
				return
			}
			local[v] = append(local[v], took)
		}
		mu.Lock()
		for v := range local {
			lat[v] = append(lat[v], local[v]...)
		}
		mu.Unlock()
	})
	b.StopTimer()
	mean := func(s []time.Duration) float64 {
		var sum time.Duration
		for _, d := range s {
			sum += d
		}
		return float64(sum) / float64(max(1, len(s)))
	}
	base := mean(lat[0])
	for v, s := range lat {
		if len(s) == 0 {
			continue
		}
		slices.Sort(s)
		b.ReportMetric(float64(s[len(s)/2].Microseconds()), variants[v].name+"-p50-µs")
		b.ReportMetric(float64(s[len(s)*99/100].Microseconds()), variants[v].name+"-p99-µs")
		if v > 0 {
			b.ReportMetric(base/mean(s), variants[v].name+"-ratio")
		}
	}
}

// timedGet sends one GET for web.test through the front end at base, reads
// the whole answer and says how long that took; a status other than 200 is
// an error.
func timedGet(client *http.Client, base string) (time.Duration, error) {
	return timedGetURL(client, base+"/")
}

// timedGetURL is timedGet of a whole URL (its path included).
func timedGetURL(client *http.Client, url string) (time.Duration, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Host = "web.test"
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return time.Since(start), nil
}

// BenchmarkProbeDecision is what the probe adds to a GET on the request
// path while the backend is healthy: the probe decision (probeBehind) and
// the record of the response that clears a miss (sawResponse). The
// proxyload bench (bench/proxy-probe.sh load) times the same calls,
// before and after, into its results.
func BenchmarkProbeDecision(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		p, s, be := decisionRig(b)
		for b.Loop() {
			p.probeBehind(s, be)
			be.sawResponse()
		}
	})
	b.Run("parallel", func(b *testing.B) {
		p, s, be := decisionRig(b)
		b.SetParallelism(10)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p.probeBehind(s, be)
				be.sawResponse()
			}
		})
	})
}
