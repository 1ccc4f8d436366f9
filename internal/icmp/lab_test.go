package icmp

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/labtest"
)

// TestIntegrationPingLabBridge pings the lab's host-a bridge address, which
// answers, and an address of that subnet no lab container is ever given,
// which must time out.
func TestIntegrationPingLabBridge(t *testing.T) {
	lab := labtest.Require(t)
	p := newPinger(t)
	gw := netip.MustParseAddr(lab.HostA.Gateway)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := p.Ping(ctx, gw); err != nil {
		t.Fatalf("Ping(%s) (the host-a bridge): %v", gw, err)
	}
	unused := netip.AddrFrom4([4]byte{gw.As4()[0], gw.As4()[1], gw.As4()[2], 250}) // outside every pool in HACKING.md
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := p.Ping(ctx, unused)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Ping(%s) (never assigned): error = %v, want DeadlineExceeded", unused, err)
	}
}
