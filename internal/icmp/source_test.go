package icmp

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/labtest"
)

// TestNewFromSource: a pinger bound to a local source address pings from
// it (its replies come back to that address); an IPv6 source is refused.
func TestNewFromSource(t *testing.T) {
	if _, err := NewFrom(netip.MustParseAddr("::1")); !errors.Is(err, ErrUnsupported) {
		t.Errorf("NewFrom(::1) = %v, want ErrUnsupported", err)
	}
	p, err := NewFrom(netip.MustParseAddr("127.0.0.2"))
	if err != nil {
		labtest.Skip(t, "raw ICMP needs root here: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	if got := p.conn.LocalAddr().String(); got != "127.0.0.2" {
		t.Errorf("bound to %s, want 127.0.0.2", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := p.Ping(ctx, loopback); err != nil {
		t.Fatalf("Ping(127.0.0.1) from 127.0.0.2: %v", err)
	}
}
