package standby

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

func TestProbeHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			_, _ = w.Write([]byte("fine"))
		case "/moved":
			http.Redirect(w, r, "/ok", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	host, portStr, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	port, _ := strconv.Atoi(portStr)

	cases := []struct {
		name   string
		path   string
		expect int
		ok     bool
		errHas string
	}{
		{"2xx by default", "/ok", 0, true, ""},
		{"exact status", "/ok", 200, true, ""},
		{"wrong status", "/missing", 200, false, "status 404, want 200"},
		{"no redirects followed", "/moved", 0, false, "status 302, want 2xx"},
		{"path without slash", "ok", 0, true, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := Probe(context.Background(), nil, ProbeRequest{
				Address: host, Kind: ProbeHTTP, Port: port, Path: c.path, ExpectStatus: c.expect, TimeoutMS: 2000,
			})
			if err != nil {
				t.Fatalf("Probe: %v", err)
			}
			if res.OK != c.ok || !strings.Contains(res.Error, c.errHas) {
				t.Fatalf("Probe = %+v, want ok=%v and error containing %q", res, c.ok, c.errHas)
			}
		})
	}
	if _, err := Probe(context.Background(), nil, ProbeRequest{Address: host, Kind: ProbeHTTP}); err == nil {
		t.Fatal("an http probe without a port was accepted")
	}
}

func TestProbeHTTPClosedPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	res, err := Probe(context.Background(), nil, ProbeRequest{Address: "127.0.0.1", Kind: ProbeHTTP, Port: port, TimeoutMS: 500})
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if res.OK || !strings.Contains(res.Error, "http:") {
		t.Fatalf("Probe of a closed port = %+v, want a failed http probe", res)
	}
}
