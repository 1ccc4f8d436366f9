package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/icmp"
	"github.com/understudy/understudy/internal/labtest"
)

// probeCtx bounds a probe of a loopback server. The bound only stops a hang:
// on a loaded 2-core machine a TLS handshake alone took over 2 s, and the
// tests assert on the probes' errors, never on their time.
func probeCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func hostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	return host, p
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port := hostPort(t, l.Addr().String())
	l.Close()
	return port
}

func TestProbeTCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, open := hostPort(t, l.Addr().String())
	probe := Probers(Deps{})[KindTCP]

	if err := probe(probeCtx(t), Target{Kind: KindTCP, Address: "127.0.0.1", Port: open}); err != nil {
		t.Errorf("tcp probe of a listening port: %v", err)
	}
	err = probe(probeCtx(t), Target{Kind: KindTCP, Address: "127.0.0.1", Port: closedPort(t)})
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("tcp probe of a closed port: error = %v, want connection refused", err)
	}
}

func TestProbeHTTP(t *testing.T) {
	var bigWritten atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	mux.HandleFunc("/teapot", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "broken", 500) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 32<<10)
		for range 2048 { // 64 MiB if the client read it all
			n, err := w.Write(chunk)
			bigWritten.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	host, port := hostPort(t, srv.Listener.Addr().String())
	probe := Probers(Deps{})[KindHTTP]

	cases := []struct {
		path   string
		expect int
		errHas string // "" means healthy
		status bool   // the error wraps ErrUnexpectedStatus
	}{
		{"/ok", 200, "", false},
		{"/ok", 0, "", false},
		{"/teapot", 418, "", false},
		{"/teapot", 0, "status 418, want 2xx", true},
		{"/fail", 200, "status 500, want 200", true},
		{"/moved", 200, "status 302, want 200", true}, // redirects are not followed
		{"/moved", 302, "", false},
		{"/big", 200, "", false}, // the body is read only up to maxBody
	}
	for _, c := range cases {
		err := probe(probeCtx(t), Target{Kind: KindHTTP, Address: host, Port: port, Path: c.path, ExpectStatus: c.expect})
		switch {
		case c.errHas == "" && err != nil:
			t.Errorf("GET %s expecting %d: %v", c.path, c.expect, err)
		case c.errHas != "" && (err == nil || !strings.Contains(err.Error(), c.errHas)):
			t.Errorf("GET %s expecting %d: error = %v, want it to say %q", c.path, c.expect, err, c.errHas)
		case err != nil && errors.Is(err, ErrUnexpectedStatus) != c.status:
			t.Errorf("GET %s: errors.Is(ErrUnexpectedStatus) = %v, want %v", c.path, !c.status, c.status)
		}
	}
	srv.Close() // waits for the /big handler, which stops when the probe hangs up
	if w := bigWritten.Load(); w >= 64<<20 {
		t.Errorf("the probe read the whole %d-byte body; it must stop after %d bytes", w, maxBody)
	}

	err := probe(probeCtx(t), Target{Kind: KindHTTP, Address: "127.0.0.1", Port: closedPort(t), Path: "/"})
	if err == nil || errors.Is(err, ErrUnexpectedStatus) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("GET on a closed port: error = %v, want a connection error, not a status", err)
	}
}

func TestProbeHTTPS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	defer srv.Close()
	host, port := hostPort(t, srv.Listener.Addr().String())
	probe := Probers(Deps{})[KindHTTPS]
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())

	target := Target{Kind: KindHTTPS, Address: host, Port: port, TLS: &tls.Config{RootCAs: roots}}
	if err := probe(probeCtx(t), target); err != nil {
		t.Errorf("https probe with the server's CA: %v", err)
	}
	target.TLS = nil
	err := probe(probeCtx(t), target)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("https probe without trusting the server: error = %v, want a certificate error", err)
	}
}

func TestProbeHTTPTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	host, port := hostPort(t, srv.Listener.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := Probers(Deps{})[KindHTTP](ctx, Target{Kind: KindHTTP, Address: host, Port: port})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("GET on a server that never answers: error = %v, want DeadlineExceeded", err)
	}
}

func TestProbeICMPWithFakePinger(t *testing.T) {
	p := &fakePinger{up: map[netip.Addr]bool{netip.MustParseAddr("10.0.0.1"): true, netip.MustParseAddr("127.0.0.1"): true}}
	probe := Probers(Deps{Pinger: p})[KindICMP]
	cases := []struct {
		addr   string
		errHas string
	}{
		{"10.0.0.1", ""},
		{"localhost", ""}, // resolved to 127.0.0.1
		{"10.0.0.2", "ping 10.0.0.2: no echo reply"},
		{"", "no address to probe"},
		{"no-such-host.invalid", "resolve"},
	}
	for _, c := range cases {
		err := probe(probeCtx(t), Target{Kind: KindICMP, Address: c.addr})
		if c.errHas == "" && err != nil || c.errHas != "" && (err == nil || !strings.Contains(err.Error(), c.errHas)) {
			t.Errorf("icmp probe of %q: error = %v, want %q", c.addr, err, c.errHas)
		}
	}
	err := Probers(Deps{})[KindICMP](probeCtx(t), Target{Kind: KindICMP, Address: "10.0.0.1"})
	if !errors.Is(err, ErrNotConfigured) {
		t.Errorf("icmp probe without a pinger: error = %v, want ErrNotConfigured", err)
	}
}

func TestProbeICMPLoopback(t *testing.T) {
	p, err := icmp.New()
	if err != nil {
		labtest.Skip(t, "raw ICMP needs root here: %v", err)
	}
	defer p.Close()
	if err := Probers(Deps{Pinger: p})[KindICMP](probeCtx(t), Target{Kind: KindICMP, Address: "127.0.0.1"}); err != nil {
		t.Errorf("icmp probe of 127.0.0.1 through internal/icmp: %v", err)
	}
}

func TestProbeInstance(t *testing.T) {
	h := &fakeHypervisor{running: map[string]bool{"web-vm": true, "api-vm": false}}
	probe := Probers(Deps{Hypervisors: map[string]Hypervisor{"host-a": h}})[KindInstance]
	cases := []struct {
		hyp, instance string
		errHas        string
		is            error
	}{
		{"host-a", "web-vm", "", nil},
		{"host-a", "api-vm", `instance "api-vm" on hypervisor "host-a"`, ErrNotRunning},
		{"host-a", "gone", "instance not found", nil},
		{"host-b", "web-vm", `hypervisor "host-b": no API client`, ErrNotConfigured},
	}
	for _, c := range cases {
		err := probe(probeCtx(t), Target{Kind: KindInstance, Hypervisor: c.hyp, Instance: c.instance})
		if c.errHas == "" && err != nil || c.errHas != "" && (err == nil || !strings.Contains(err.Error(), c.errHas)) {
			t.Errorf("instance probe of %s on %s: error = %v, want %q", c.instance, c.hyp, err, c.errHas)
		}
		if c.is != nil && !errors.Is(err, c.is) {
			t.Errorf("instance probe of %s on %s: error = %v, want it to wrap %v", c.instance, c.hyp, err, c.is)
		}
	}
}

func TestProbeHypervisor(t *testing.T) {
	cases := []struct {
		name      string
		apiDown   bool
		addrUp    bool
		errHas    []string
		errHasNot string
	}{
		{"api and address answer", false, true, nil, ""},
		{"api down", true, true, []string{"api: connection refused", "address answers"}, ""},
		{"address silent", false, false, []string{"address: ping 10.0.0.1: no echo reply", "api answers"}, ""},
		{"both down", true, false, []string{"api: connection refused", "address: ping 10.0.0.1"}, "answers"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := &fakeHypervisor{apiDown: c.apiDown}
			p := &fakePinger{up: map[netip.Addr]bool{netip.MustParseAddr("10.0.0.1"): c.addrUp}}
			probe := Probers(Deps{Pinger: p, Hypervisors: map[string]Hypervisor{"host-a": h}})[KindHypervisor]
			err := probe(probeCtx(t), Target{Kind: KindHypervisor, Hypervisor: "host-a", Address: "10.0.0.1"})
			if len(c.errHas) == 0 {
				if err != nil {
					t.Fatalf("hypervisor probe: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("hypervisor probe passed, want an error")
			}
			for _, s := range c.errHas {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			if c.errHasNot != "" && strings.Contains(err.Error(), c.errHasNot) {
				t.Errorf("error %q says %q", err, c.errHasNot)
			}
		})
	}
}

func TestProbersCoverEveryKind(t *testing.T) {
	ps := Probers(Deps{})
	for _, k := range []Kind{KindICMP, KindTCP, KindHTTP, KindHTTPS, KindInstance, KindHypervisor} {
		if ps[k] == nil {
			t.Errorf("no probe for kind %q", k)
		}
	}
}
