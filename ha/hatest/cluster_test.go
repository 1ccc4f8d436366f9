package hatest

import (
	"context"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/tcpcut"
)

// TestClusterAndCutter starts the cluster, writes through one member and
// reads through another, then reads through a tcpcut proxy until it is cut.
func TestClusterAndCutter(t *testing.T) {
	c := Start(t)
	if got := len(c.Endpoints()); got != Members {
		t.Fatalf("%d endpoints, want %d", got, Members)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	w, r := c.Client(t, c.Endpoints()[0]), c.Client(t, c.Endpoints()[2])
	if _, err := w.Put(ctx, "/hatest/k", "v"); err != nil {
		t.Fatalf("put via m0: %v", err)
	}
	if resp, err := r.Get(ctx, "/hatest/k"); err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v" {
		t.Fatalf("get via m2: %v %v", resp, err)
	}

	cut := tcpcut.New(t, c.Endpoints()[1])
	p := c.Client(t, cut.URL())
	if _, err := p.Get(ctx, "/hatest/k"); err != nil {
		t.Fatalf("get through the cutter: %v", err)
	}
	cut.Cut()
	short, done := context.WithTimeout(ctx, time.Second)
	defer done()
	if _, err := p.Get(short, "/hatest/k"); err == nil {
		t.Fatal("a get through a cut proxy succeeded")
	}
	if _, err := r.Get(ctx, "/hatest/k"); err != nil {
		t.Fatalf("member m2 after the cut: %v", err)
	}
}
