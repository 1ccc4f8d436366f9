package lxd

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/labtest"
)

// Run with: flock /tmp/understudy-lab.lock go test -run '^$' -bench . -benchtime 10x ./lxd/

// reportMedians adds the median of each series as a metric in milliseconds.
func reportMedians(b *testing.B, series map[string][]time.Duration) {
	b.Helper()
	for unit, ds := range series {
		if len(ds) == 0 {
			continue
		}
		s := slices.Clone(ds)
		slices.Sort(s)
		med := s[len(s)/2]
		if len(s)%2 == 0 {
			med = (s[len(s)/2-1] + s[len(s)/2]) / 2
		}
		b.ReportMetric(float64(med)/float64(time.Millisecond), unit)
	}
}

// BenchmarkStart measures a cold start of a stopped container until its
// NIC has its IPv4 address (the timed part), and until HTTP answers.
func BenchmarkStart(b *testing.B) {
	lab := labtest.Require(b)
	c := connectUnix(b, lab.Standby)
	const name = "t-lxd-bstart"
	ensureFresh(b, c, labSpec(lab, name, "10.200.1.195", lab.Standby.Gateway))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var toIP, toHTTP []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if err := c.Stop(ctx, name, 0); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		if err := c.Start(ctx, name); err != nil {
			b.Fatal(err)
		}
		ip, err := c.WaitIPv4(ctx, name, "eth0")
		if err != nil {
			b.Fatal(err)
		}
		toIP = append(toIP, time.Since(t0))
		b.StopTimer()
		if _, err := httpBody(ctx, ip); err != nil {
			b.Fatal(err)
		}
		toHTTP = append(toHTTP, time.Since(t0))
		b.StartTimer()
	}
	b.StopTimer()
	reportMedians(b, map[string][]time.Duration{"median-ipv4-ms": toIP, "median-http-ms": toHTTP})
}

// BenchmarkCopy measures stop-copy-start of a running container from
// standby-1 to spare-1 over HTTPS (the timed part), and until the copy
// answers HTTP at its new address.
func BenchmarkCopy(b *testing.B) {
	for _, mode := range []string{"pull", "relay"} {
		b.Run(mode, func(b *testing.B) { benchCopy(b, mode) })
	}
}

func benchCopy(b *testing.B, mode string) {
	lab := labtest.Require(b)
	src := connectHTTPS(b, lab, lab.Standby)
	dst := connectHTTPS(b, lab, lab.Spare)
	const name = "t-lxd-bcopy"
	ensureFresh(b, src, labSpec(lab, name, "10.200.1.198", lab.Standby.Gateway))
	b.Cleanup(func() { cleanup(b, dst, name) })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := src.Start(ctx, name); err != nil {
		b.Fatal(err)
	}
	opts := CopyOptions{Start: true, Mode: mode, Config: map[string]string{"environment.IPADDR": "10.200.2.198/24", "environment.GATEWAY": lab.Spare.Gateway}}
	var copies, toHTTP []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if err := dst.Delete(ctx, name); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		if err := src.Copy(ctx, dst, name, opts); err != nil {
			b.Fatal(err)
		}
		copies = append(copies, time.Since(t0))
		b.StopTimer()
		ip, err := dst.WaitIPv4(ctx, name, "eth0")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := httpBody(ctx, ip); err != nil {
			b.Fatal(err)
		}
		toHTTP = append(toHTTP, time.Since(t0))
		b.StartTimer()
	}
	b.StopTimer()
	reportMedians(b, map[string][]time.Duration{"median-copy-ms": copies, "median-http-ms": toHTTP})
}
