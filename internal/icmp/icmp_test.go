package icmp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	xicmp "golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"

	"github.com/understudy/understudy/internal/labtest"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// newPinger opens a Pinger or skips when raw sockets are not allowed.
func newPinger(t testing.TB) *Pinger {
	t.Helper()
	p, err := New()
	if err != nil {
		labtest.Skip(t, "raw ICMP needs root here: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestPingLoopback(t *testing.T) {
	p := newPinger(t)
	for _, addr := range []string{"127.0.0.1", "127.0.0.2", "::ffff:127.0.0.1"} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		rtt, err := p.Ping(ctx, netip.MustParseAddr(addr))
		cancel()
		if err != nil {
			t.Fatalf("Ping(%s): %v", addr, err)
		}
		if rtt <= 0 {
			t.Errorf("Ping(%s) rtt = %v, want > 0", addr, rtt)
		}
	}
}

func TestPingConcurrentCallers(t *testing.T) {
	p := newPinger(t)
	addrs := []netip.Addr{loopback, netip.MustParseAddr("127.0.0.3")}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if _, err := p.Ping(ctx, addrs[i%len(addrs)]); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.bySeq) != 0 || len(p.byAddr) != 0 {
		t.Errorf("flights left after all callers returned: %d by seq, %d by addr", len(p.bySeq), len(p.byAddr))
	}
}

func TestPingRejectsIPv6(t *testing.T) {
	p := newPinger(t)
	_, err := p.Ping(context.Background(), netip.MustParseAddr("::1"))
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Ping(::1) error = %v, want ErrUnsupported", err)
	}
}

func TestPingAfterClose(t *testing.T) {
	p := newPinger(t)
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err := p.Ping(context.Background(), loopback)
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("Ping after Close error = %v, want ErrClosed", err)
	}
}

// TestCallersShareOneFlight checks, without the network, that a second
// caller joins the request in flight and that one reply wakes both, while
// replies with a foreign token, identifier or source are ignored.
func TestCallersShareOneFlight(t *testing.T) {
	p := newPinger(t)
	addr := netip.MustParseAddr("127.0.0.9")
	first, fresh, err := p.join(addr)
	if err != nil || !fresh {
		t.Fatalf("first join = fresh %v, err %v; want a fresh flight", fresh, err)
	}
	second, fresh, err := p.join(addr)
	if err != nil || fresh || second != first {
		t.Fatalf("second join = fresh %v, same %v, err %v; want to share the first flight", fresh, second == first, err)
	}
	if first.waiters != 2 {
		t.Fatalf("waiters = %d, want 2", first.waiters)
	}

	other := p.token
	other[0]++
	ignored := []struct {
		name  string
		id    uint16
		token []byte
		from  string
	}{
		{"foreign token", p.id, other[:], "127.0.0.9"},
		{"foreign identifier", p.id + 1, p.token[:], "127.0.0.9"},
		{"other source", p.id, p.token[:], "127.0.0.8"},
	}
	for _, c := range ignored {
		p.deliver(reply(t, c.id, first.seq, c.token), &net.IPAddr{IP: net.ParseIP(c.from)}, time.Now())
		select {
		case <-first.done:
			t.Fatalf("%s: a reply that is not ours finished the flight", c.name)
		default:
		}
	}

	p.deliver(reply(t, p.id, first.seq, p.token[:]), &net.IPAddr{IP: net.ParseIP("127.0.0.9")}, first.sent.Add(time.Millisecond))
	<-first.done
	if first.err != nil || first.rtt != time.Millisecond {
		t.Fatalf("flight finished with rtt %v, err %v; want 1ms, nil", first.rtt, first.err)
	}
}

func reply(t *testing.T, id, seq uint16, token []byte) []byte {
	t.Helper()
	data := append(append([]byte{}, token...), make([]byte, 8)...)
	b, err := (&xicmp.Message{Type: ipv4.ICMPTypeEchoReply, Body: &xicmp.Echo{ID: int(id), Seq: int(seq), Data: data}}).Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReadBuffer: the socket's receive buffer is grown to ReadBuffer, so a
// reader that is not scheduled for a while does not lose replies (the
// kernel reports twice what was set, for its bookkeeping).
func TestReadBuffer(t *testing.T) {
	p := newPinger(t)
	sc, ok := p.conn.IPv4PacketConn().PacketConn.(syscall.Conn)
	if !ok {
		t.Fatalf("%T has no file descriptor", p.conn.IPv4PacketConn().PacketConn)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var got int
	var gerr error
	if err := raw.Control(func(fd uintptr) { got, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF) }); err != nil || gerr != nil {
		t.Fatalf("read SO_RCVBUF: %v %v", err, gerr)
	}
	if got < ReadBuffer {
		t.Errorf("SO_RCVBUF = %d, want at least %d", got, ReadBuffer)
	}
}
