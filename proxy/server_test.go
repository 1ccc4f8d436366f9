package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingListener counts the connections its Accept handed out that are
// still open, and the most open at once.
type countingListener struct {
	net.Listener
	open, peak atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	n := l.open.Add(1)
	for p := l.peak.Load(); n > p && !l.peak.CompareAndSwap(p, n); p = l.peak.Load() {
	}
	return &countedConn{Conn: c, l: l}, nil
}

type countedConn struct {
	net.Conn
	l    *countingListener
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

// serveLimited serves the rig's proxy with limits on a fresh loopback port
// and returns its address and the counting listener under the cap.
func serveLimited(t *testing.T, r *rig, l ServerLimits) (string, *countingListener) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	srv := r.p.Server(l)
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(Listener(cl, l)) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return ln.Addr().String(), cl
}

// keepAliveClient opens one connection, sends one keep-alive GET, reads
// the answer, then waits for the server to close the idle connection. It
// returns the answer's body and how the wait ended (nil: the server closed
// it).
func keepAliveClient(addr, host string, bound time.Duration) (string, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(bound))
	if _, err := fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", host); err != nil {
		return "", err
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return "", fmt.Errorf("read response: %w", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Close {
		return string(b), errors.New("the server asked to close after the answer: not kept alive")
	}
	// Idle now: the next read ends with EOF when the server closes it.
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		return string(b), fmt.Errorf("idle keep-alive connection not closed by the server: %w", err)
	}
	return string(b), nil
}

// TestProxyClosesIdleKeepAlive: a burst of keep-alive clients that each
// send one request and then sit idle is served at most MaxConns at a time
// (the rest wait unaccepted), and every idle connection is closed by the
// proxy after the idle timeout, so a burst leaves no connection behind.
func TestProxyClosesIdleKeepAlive(t *testing.T) {
	a := newBackendServer(t, 2, 0, "primary", nil)
	r := newRig(t, a.port, nil, place(a.addr, 1))
	waitFor(t, "the first placement", func() bool { b, _ := r.p.byName["web"].current(); return b != nil })
	const clients, maxConns = 200, 20
	addr, cl := serveLimited(t, r, ServerLimits{IdleTimeout: 50 * time.Millisecond, MaxConns: maxConns})

	errs := make(chan error, clients)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			// The bound is generous: the last of 10 waves of 20 waits for
			// nine idle timeouts.
			body, err := keepAliveClient(addr, "web.test", 30*time.Second)
			if err == nil && body != "primary" {
				err = fmt.Errorf("answer %q, want primary", body)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			if failed++; failed <= 3 {
				t.Errorf("client: %v", err)
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d clients failed", failed, clients)
	}
	if p := cl.peak.Load(); p > maxConns {
		t.Errorf("%d connections open at once, want at most the cap %d", p, maxConns)
	}
	waitFor(t, "every connection closed", func() bool { return cl.open.Load() == 0 })
	waitFor(t, "the connection gauge at 0", func() bool { return value(r.p.m.clientConns) == 0 })
}

// TestStalledBodyIsCut: a client that sends its headers and part of its
// body, then nothing, gets 408 after the body timeout; the backend is not
// suspected for it.
func TestStalledBodyIsCut(t *testing.T) {
	var posts atomic.Int32
	a := newBackendServer(t, 2, 0, "primary", echoBody("primary", &posts))
	r := newRig(t, a.port, func(c *Config) { c.BodyTimeout = 50 * time.Millisecond }, place(a.addr, 1))
	waitFor(t, "the first placement", func() bool { b, _ := r.p.byName["web"].current(); return b != nil })
	addr, _ := serveLimited(t, r, ServerLimits{})

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second)) // a hung test, not a speed goal
	fmt.Fprint(c, "POST / HTTP/1.1\r\nHost: web.test\r\nContent-Length: 100\r\n\r\npart")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("status %d, want 408", resp.StatusCode)
	}
	if got := r.outcomes(OutcomeBodyTimeout); got != 1 {
		t.Errorf("body_timeout outcomes = %v, want 1", got)
	}
	if got := r.mon.reported(); len(got) != 0 {
		t.Errorf("suspect reports %v, want none: the client stalled, not the backend", got)
	}
	// The proxy still serves the next request.
	if status, body, _ := r.get(t, "web.test"); status != http.StatusOK || body != "primary:" {
		t.Errorf("next GET: %d %q, want 200 primary:", status, body)
	}
}
