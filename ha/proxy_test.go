package ha

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
)

// cutter is a loopback TCP proxy in front of an etcd member; cut drops
// every connection and refuses new ones, as a network partition would,
// while the member keeps running for the others.
type cutter struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newCutter(t *testing.T, targetURL string) *cutter {
	t.Helper()
	u, err := url.Parse(targetURL)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cutter{l: l, target: u.Host}
	c.wg.Go(c.accept)
	t.Cleanup(c.cut)
	return c
}

func (c *cutter) url() string { return "http://" + c.l.Addr().String() }

func (c *cutter) accept() {
	for {
		in, err := c.l.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", c.target)
		if err != nil {
			in.Close()
			continue
		}
		c.mu.Lock()
		c.conns = append(c.conns, in, out)
		c.mu.Unlock()
		c.wg.Go(func() { io.Copy(out, in); out.Close() })
		c.wg.Go(func() { io.Copy(in, out); in.Close() })
	}
}

// cut closes the listener and every proxied connection, and waits for the
// proxy's goroutines.
func (c *cutter) cut() {
	c.l.Close()
	c.mu.Lock()
	for _, conn := range c.conns {
		conn.Close()
	}
	c.conns = nil
	c.mu.Unlock()
	c.wg.Wait()
}
