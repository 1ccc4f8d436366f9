package icmp

import (
	"context"
	"testing"
	"time"

	probing "github.com/prometheus-community/pro-bing"
)

// BenchmarkPingLoopback measures one echo over the shared raw socket.
func BenchmarkPingLoopback(b *testing.B) {
	p := newPinger(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := p.Ping(ctx, loopback); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProBingLoopback measures one pro-bing Run() with a single echo,
// the per-probe cost this package avoids (a socket and goroutines per run).
func BenchmarkProBingLoopback(b *testing.B) {
	for b.Loop() {
		pg, err := probing.NewPinger("127.0.0.1")
		if err != nil {
			b.Fatal(err)
		}
		pg.SetPrivileged(true)
		pg.Count = 1
		pg.Timeout = time.Second
		if err := pg.Run(); err != nil {
			b.Skipf("skipping: pro-bing cannot run here: %v", err)
		}
		if pg.Statistics().PacketsRecv != 1 {
			b.Fatal("pro-bing got no reply from 127.0.0.1")
		}
	}
}

// BenchmarkPingLoopbackParallel measures concurrent callers to one address,
// as the proxy's per-request probes are: they share the echo in flight.
func BenchmarkPingLoopbackParallel(b *testing.B) {
	p := newPinger(b)
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if _, err := p.Ping(ctx, loopback); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
