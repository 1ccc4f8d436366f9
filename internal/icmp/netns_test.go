package icmp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// pingerInNewNetns opens a Pinger whose socket lives in a fresh network
// namespace, so tests can make addresses stay silent without touching the
// host's network. With loUp the namespace's loopback is brought up; with
// ignoreEcho the namespace's kernel stops answering echo requests.
//
// The namespace is entered on a dedicated OS thread that is never unlocked,
// so the Go runtime discards the thread (and no other goroutine ever runs in
// the namespace). The namespace lives as long as the socket.
func pingerInNewNetns(t *testing.T, loUp, ignoreEcho bool) *Pinger {
	t.Helper()
	type result struct {
		p   *Pinger
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with this goroutine
		if err := syscall.Unshare(syscall.CLONE_NEWNET); err != nil {
			ch <- result{err: fmt.Errorf("unshare network namespace: %w", err)}
			return
		}
		if loUp {
			if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
				ch <- result{err: fmt.Errorf("ip link set lo up: %v: %s", err, out)}
				return
			}
		}
		if ignoreEcho {
			if err := os.WriteFile("/proc/sys/net/ipv4/icmp_echo_ignore_all", []byte("1"), 0o644); err != nil {
				ch <- result{err: fmt.Errorf("ignore echo requests: %w", err)}
				return
			}
		}
		p, err := New()
		ch <- result{p, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Skipf("skipping: cannot build a private network namespace here (needs root): %v", r.err)
	}
	t.Cleanup(func() { r.p.Close() })
	return r.p
}

func TestPingTimeout(t *testing.T) {
	p := pingerInNewNetns(t, true, true)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := p.Ping(ctx, loopback)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Ping to a silent address: error = %v, want DeadlineExceeded", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.bySeq) != 0 || len(p.byAddr) != 0 {
		t.Errorf("flight kept after its only caller gave up: %d by seq, %d by addr", len(p.bySeq), len(p.byAddr))
	}
}

// TestPingTimeoutSharedCallers checks that callers sharing a lost request
// each return at their own deadline, and that a later caller sends afresh.
func TestPingTimeoutSharedCallers(t *testing.T) {
	p := pingerInNewNetns(t, true, true)
	short, cancelShort := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelShort()
	long, cancelLong := context.WithCancel(context.Background())
	defer cancelLong()

	longDone := make(chan error, 1)
	f, _, _ := p.join(loopback) // hold a flight open as an earlier caller would
	go func() {
		_, err := p.Ping(long, loopback)
		longDone <- err
	}()
	waitFor(t, func() bool { p.mu.Lock(); defer p.mu.Unlock(); return f.waiters == 2 })
	if _, err := p.Ping(short, loopback); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("short caller error = %v, want DeadlineExceeded", err)
	}
	select {
	case err := <-longDone:
		t.Fatalf("the long caller returned when the short one timed out: %v", err)
	default:
	}
	p.mu.Lock()
	offered := p.byAddr[loopback] == f
	p.mu.Unlock()
	if offered {
		t.Error("a flight someone timed out on is still offered to new callers")
	}
	cancelLong()
	if err := <-longDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("long caller error = %v, want Canceled", err)
	}
	p.leave(f)
}

func TestPingNetworkUnreachable(t *testing.T) {
	p := pingerInNewNetns(t, false, false)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := p.Ping(ctx, loopback)
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Ping with no route: error = %v, want the send error", err)
	}
	if !errors.Is(err, syscall.ENETUNREACH) {
		t.Errorf("Ping with no route: error = %v, want ENETUNREACH", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("condition not reached")
}
