// Package tcpcut is a loopback TCP proxy that tests cut to simulate a network
// partition between a client and a server (an etcd member, say).
package tcpcut

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"
)

// Cutter is a loopback TCP proxy in front of one etcd member. Cut drops
// every proxied connection and refuses new ones, as a network partition
// between a client and its member would, while the member keeps serving the
// others.
type Cutter struct {
	l       net.Listener
	network string // of the target: tcp, or unix for a member's socket
	target  string

	mu    sync.Mutex
	conns []net.Conn
	cut   time.Time
	wg    sync.WaitGroup
}

// New proxies a new loopback port to targetURL (a member's client
// URL: http://HOST:PORT, or unix:///PATH for its socket) until Cut or the
// end of the test.
func New(t testing.TB, targetURL string) *Cutter {
	t.Helper()
	u, err := url.Parse(targetURL)
	if err != nil {
		t.Fatalf("cutter target %q: %v", targetURL, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("cutter listen: %v", err)
	}
	c := &Cutter{l: l, network: "tcp", target: u.Host}
	if u.Scheme == "unix" {
		c.network, c.target = "unix", u.Path
	}
	c.wg.Go(c.accept)
	t.Cleanup(func() { c.Cut() })
	return c
}

// URL is the proxy's address as an etcd endpoint.
func (c *Cutter) URL() string { return "http://" + c.l.Addr().String() }

func (c *Cutter) accept() {
	for {
		in, err := c.l.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial(c.network, c.target)
		if err != nil {
			in.Close()
			continue
		}
		c.mu.Lock()
		if !c.cut.IsZero() { // cut while dialing
			c.mu.Unlock()
			in.Close()
			out.Close()
			return
		}
		c.conns = append(c.conns, in, out)
		c.mu.Unlock()
		c.wg.Go(func() { io.Copy(out, in); out.Close() })
		c.wg.Go(func() { io.Copy(in, out); in.Close() })
	}
}

// Cut closes the listener and every proxied connection, waits for the
// proxy's goroutines, and returns when the cut happened (the first call's
// time on later calls).
func (c *Cutter) Cut() time.Time {
	c.mu.Lock()
	if c.cut.IsZero() {
		c.cut = time.Now()
	}
	at := c.cut
	c.l.Close()
	for _, conn := range c.conns {
		conn.Close()
	}
	c.conns = nil
	c.mu.Unlock()
	c.wg.Wait()
	return at
}
