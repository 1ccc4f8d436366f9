package tlsfiles

import (
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/pki"
)

func issue(t *testing.T, dir string) {
	t.Helper()
	if err := pki.Init(dir); err != nil {
		t.Fatal(err)
	}
	if err := pki.Issue(dir, dir, "server", true, []string{"127.0.0.1"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := pki.Issue(dir, dir, "client", false, nil, time.Hour); err != nil {
		t.Fatal(err)
	}
}

// handshake serves one TLS handshake with srv and dials it with conf; it
// returns the serial the client presented (as the server saw it) or the
// dial's error.
func handshake(t *testing.T, srv *Server, conf *tls.Config) (string, error) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	seen := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			seen <- ""
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		if tc.Handshake() != nil || len(tc.ConnectionState().PeerCertificates) == 0 {
			seen <- ""
			return
		}
		seen <- tc.ConnectionState().PeerCertificates[0].SerialNumber.String()
		_, _ = tc.Write([]byte("x")) // the client's read ends its handshake
	}()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), conf)
	if err == nil {
		_, err = c.Read(make([]byte, 1)) // TLS 1.3: a refused certificate shows here
		c.Close()
	}
	return <-seen, err
}

func TestMutualTLSAndClientRotation(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	issue(t, dir)
	issue(t, other)
	p := func(d, f string) string { return filepath.Join(d, f) }
	srv, err := NewServer(p(dir, "server.crt"), p(dir, "server.key"), p(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	good, err := Client(p(dir, "ca.crt"), p(dir, "client.crt"), p(dir, "client.key"))
	if err != nil {
		t.Fatal(err)
	}
	first, err := handshake(t, srv, good)
	if err != nil || first == "" {
		t.Fatalf("the right client certificate: serial %q, %v", first, err)
	}
	foreign, err := Client(p(dir, "ca.crt"), p(other, "client.crt"), p(other, "client.key"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := handshake(t, srv, foreign); err == nil || !strings.Contains(err.Error(), "unknown certificate authority") {
		t.Errorf("a client certificate of another CA: %v, want unknown certificate authority", err)
	}

	// A rotated client certificate is presented at the next handshake.
	if _, _, err := pki.IssueWith(dir, dir, pki.IssueRequest{Name: "client"}, pki.Options{Force: true}); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(2 * time.Second)
	for _, f := range []string{"client.crt", "client.key"} {
		if err := os.Chtimes(p(dir, f), future, future); err != nil {
			t.Fatal(err)
		}
	}
	second, err := handshake(t, srv, good)
	if err != nil || second == first {
		t.Errorf("after rotation: serial %q (before %q), %v; want a new serial", second, first, err)
	}
}

func TestMissingFilesNamed(t *testing.T) {
	if _, err := NewServer("/nonexistent/s.crt", "/nonexistent/s.key", "/nonexistent/ca.crt"); err == nil || !strings.Contains(err.Error(), "/nonexistent/s.crt") {
		t.Errorf("NewServer: %v, want the missing path", err)
	}
	dir := t.TempDir()
	issue(t, dir)
	if _, err := Client(filepath.Join(dir, "ca.crt"), "/nonexistent/c.crt", "/nonexistent/c.key"); err == nil || !strings.Contains(err.Error(), "/nonexistent/c.crt") {
		t.Errorf("Client: %v, want the missing path", err)
	}
}
