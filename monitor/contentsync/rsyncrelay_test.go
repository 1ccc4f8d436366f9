package contentsync

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/understudy/understudy/lxd"
)

// countReader counts what passes it.
type countReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestRelayForwardsThroughTheCap: what a client sends through the relay
// reaches the primary's port, the answer comes back, and every byte of
// both ways passed the relay's reader (the shared cap's).
func TestRelayForwardsThroughTheCap(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	answer := bytes.Repeat([]byte("primary "), 64<<10) // 512 KiB
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		got, _ := io.ReadAll(c) // until the client's half-close
		if string(got) == "hello" {
			_, _ = c.Write(answer)
		}
	}()
	var passed atomic.Int64
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	p, _ := strconv.Atoi(port)
	r := Rsync{Host: host, Port: p, Limiter: lxd.NewLimiter(0),
		relayed: func(rd io.Reader) io.Reader { return countReader{rd, &passed} }}
	relay, err := startRelay(t.Context(), net.JoinHostPort(host, port), r.wrap, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(relay.Port())))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	_ = c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	c.Close()
	if err != nil || !bytes.Equal(got, answer) {
		t.Fatalf("through the relay: %d bytes (%v), want the primary's %d", len(got), err, len(answer))
	}
	if err := relay.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if want := int64(len("hello") + len(answer)); passed.Load() != want {
		t.Errorf("%d bytes passed the cap's reader, want %d (both ways)", passed.Load(), want)
	}
}

// TestRelayNamesAnUnreachablePrimary: a primary that refuses the
// connection fails the relay's connection, and Close says so.
func TestRelayNamesAnUnreachablePrimary(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	relay, err := startRelay(context.Background(), addr, func(_ context.Context, r io.Reader) io.Reader { return r }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(relay.Port())))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(c) // the relay closes it
	c.Close()
	if err := relay.Close(); err == nil || !bytes.Contains([]byte(err.Error()), []byte(addr)) {
		t.Errorf("Close = %v, want the failed connect to %s", err, addr)
	}
}
