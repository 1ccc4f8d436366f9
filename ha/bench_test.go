package ha

import (
	"context"
	"fmt"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// BenchmarkTakeover measures how long a follower takes to lead after the
// leader's process dies (its connection closes; its lease is not revoked),
// with the default 3 s TTL. Run with e.g. -benchtime=5x; the takeover-s
// metric is the mean.
func BenchmarkTakeover(b *testing.B) {
	shared.once.Do(func() { shared.dir, shared.peers, shared.err = startPeers() })
	if shared.err != nil {
		b.Fatal(shared.err)
	}
	var total time.Duration
	n := 0
	for b.Loop() {
		b.StopTimer()
		total += takeover(b, n)
		n++
		b.StartTimer()
	}
	b.ReportMetric(total.Seconds()/float64(n), "takeover-s")
}

// takeover runs one leader death and returns the time to the next leader.
func takeover(b *testing.B, round int) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	prefix := fmt.Sprintf("/bench/takeover/%d/leader", round)
	electors := make([]*Elector, 2)
	clients := make([]*clientv3.Client, 2)
	for i := range 2 {
		cli, err := clientv3.New(clientv3.Config{Endpoints: []string{shared.peers[i].ClientURL}, DialTimeout: 5 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		defer cli.Close()
		e, err := NewElector(Config{Client: cli, Name: fmt.Sprintf("mon%d", i), Prefix: prefix})
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close()
		electors[i], clients[i] = e, cli
	}
	if _, err := electors[0].Campaign(ctx); err != nil {
		b.Fatal(err)
	}
	won := make(chan error, 1)
	go func() {
		_, err := electors[1].Campaign(ctx)
		won <- err
	}()
	time.Sleep(200 * time.Millisecond) // the follower waits behind the leader
	killed := time.Now()
	clients[0].Close()
	if err := <-won; err != nil {
		b.Fatal(err)
	}
	return time.Since(killed)
}
