package standby

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/icmp"
	"github.com/understudy/understudy/internal/labtest"
	"github.com/understudy/understudy/internal/pki"
)

// certSet is a CA with a server certificate for 127.0.0.1 and a client certificate.
type certSet struct {
	dir string
}

func (c certSet) path(f string) string { return filepath.Join(c.dir, f) }

func newCertSet(t testing.TB) certSet {
	t.Helper()
	c := certSet{dir: t.TempDir()}
	if err := pki.Init(c.dir); err != nil {
		t.Fatal(err)
	}
	if err := pki.Issue(c.dir, c.dir, "agent", true, []string{"127.0.0.1"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := pki.Issue(c.dir, c.dir, "monitor", false, nil, time.Hour); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c certSet) files() TLSFiles {
	return TLSFiles{Cert: c.path("agent.crt"), Key: c.path("agent.key"), ClientCA: c.path("ca.crt")}
}

// startServer serves env's agent over mutual TLS and returns a client for it.
func startServer(t *testing.T, env *testEnv, certs certSet) (*httptest.Server, *Client) {
	t.Helper()
	r, err := newCertReloader(certs.files())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(env.agent.Handler())
	srv.TLS = r.serverConfig()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	tlsCfg, err := ClientTLSConfig(certs.path("ca.crt"), certs.path("monitor.crt"), certs.path("monitor.key"))
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(srv.URL, tlsCfg)
	t.Cleanup(c.Close)
	return srv, c
}

func TestClientServerMutualTLS(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.Capacity.Containers = 1 })
	certs := newCertSet(t)
	srv, c := startServer(t, env, certs)
	ctx := t.Context()

	h, err := c.Health(ctx)
	if err != nil || !h.Ready || h.Version != "test" || !strings.HasPrefix(h.Restore, "unavailable: ") {
		t.Fatalf("Health = %+v, %v", h, err)
	}
	spec := env.spec("web", ModeCold)
	if _, err := c.Prepare(ctx, 3, spec); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	act, err := c.Activate(ctx, 3, "web")
	if err != nil || act.Address != "127.0.0.1" || len(act.Phases) != 3 || act.TookMS <= 0 {
		t.Fatalf("Activate = %+v, %v", act, err)
	}
	if _, err := c.Activate(ctx, 2, "web"); !errors.Is(err, ErrStaleEpoch) {
		t.Errorf("stale Activate: err = %v, want ErrStaleEpoch", err)
	}
	if _, err := c.Prepare(ctx, 3, env.spec("other", ModeCold)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Activate(ctx, 3, "other"); !errors.Is(err, ErrNoCapacity) {
		t.Errorf("Activate over capacity: err = %v, want ErrNoCapacity", err)
	}
	if _, err := c.Activate(ctx, 3, "missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Activate unknown: err = %v, want ErrNotFound", err)
	}
	if _, err := c.Prepare(ctx, 3, ServiceSpec{Name: "x"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Prepare invalid: err = %v, want ErrInvalid", err)
	}
	svcs, err := c.Services(ctx)
	if err != nil || len(svcs) != 2 || svcs[1].Spec.Name != "web" || !svcs[1].Running || !svcs[1].Active {
		t.Errorf("Services = %+v, %v", svcs, err)
	}
	capa, err := c.Capacity(ctx)
	if err != nil || capa.CPUs < 1 || capa.MemoryTotal <= 0 || capa.ContainersRunning != 1 || capa.SlotsFree != 0 {
		t.Errorf("Capacity = %+v, %v", capa, err)
	}
	if _, err := c.Deactivate(ctx, 3, "web"); err != nil {
		t.Errorf("Deactivate: %v", err)
	}
	if err := c.Delete(ctx, 3, "web"); err != nil {
		t.Errorf("Delete: %v", err)
	}
	if err := c.Delete(ctx, 1, "other"); !errors.Is(err, ErrStaleEpoch) {
		t.Errorf("stale Delete: err = %v", err)
	}
	res, err := c.Probe(ctx, ProbeRequest{Address: "127.0.0.1", Kind: ProbeTCP, Port: env.port, TimeoutMS: 500})
	if err != nil || !res.OK {
		t.Errorf("Probe = %+v, %v", res, err)
	}

	// Metrics are served and count the activations by result.
	resp, err := c.http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`understudy_agent_activations_total{result="ok",service="web"} 1`,
		`understudy_agent_activations_total{result="no_capacity",service="other"} 1`,
		`understudy_agent_activations_total{result="stale_epoch",service="web"} 1`,
		`understudy_agent_activation_seconds_count{mode="cold"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestServerRefusesClientWithoutCert(t *testing.T) {
	env := newTestEnv(t, nil)
	certs := newCertSet(t)
	srv, _ := startServer(t, env, certs)
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(certs.path("ca.crt"))
	pool.AppendCertsFromPEM(pem)

	other := newCertSet(t) // a certificate from a different CA
	foreign, err := tls.LoadX509KeyPair(other.path("monitor.crt"), other.path("monitor.key"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		desc  string
		certs []tls.Certificate
	}{
		{"no certificate", nil},
		{"certificate from another CA", []tls.Certificate{foreign}},
	}
	for _, tc := range tests {
		c := NewClient(srv.URL, &tls.Config{RootCAs: pool, Certificates: tc.certs, MinVersion: tls.VersionTLS13})
		_, err := c.Health(t.Context())
		c.Close()
		if err == nil {
			t.Errorf("%s: request succeeded", tc.desc)
		} else if !strings.Contains(err.Error(), "certificate") {
			t.Errorf("%s: err = %v, want a certificate error", tc.desc, err)
		}
	}
}

func TestCertRotation(t *testing.T) {
	certs := newCertSet(t)
	r, err := newCertReloader(certs.files())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", r.serverConfig())
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	serial := func() string {
		tlsCfg, err := ClientTLSConfig(certs.path("ca.crt"), certs.path("monitor.crt"), certs.path("monitor.key"))
		if err != nil {
			t.Fatal(err)
		}
		conn, err := tls.Dial("tcp", ln.Addr().String(), tlsCfg)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer conn.Close()
		if err := conn.Handshake(); err != nil {
			t.Fatal(err)
		}
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	before := serial()
	// Issue a new server certificate in place; a later mtime makes the next handshake reload it.
	_, _, err = pki.IssueWith(certs.dir, certs.dir, pki.IssueRequest{Name: "agent", Server: true, Hosts: []string{"127.0.0.1"}}, pki.Options{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(2 * time.Second)
	for _, f := range []string{"agent.crt", "agent.key"} {
		if err := os.Chtimes(certs.path(f), future, future); err != nil {
			t.Fatal(err)
		}
	}
	if after := serial(); after == before {
		t.Errorf("server still presents serial %s after rotation", before)
	}
	// A broken file keeps the previous material.
	if err := os.WriteFile(certs.path("agent.crt"), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	later := future.Add(time.Second)
	_ = os.Chtimes(certs.path("agent.crt"), later, later)
	if s := serial(); s == "" {
		t.Error("no certificate after a broken rotation")
	}
	if err := r.Reload(); err == nil {
		t.Error("Reload of a broken certificate succeeded")
	}
}

func TestProbeTCPAndInvalid(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	ok, err := Probe(t.Context(), nil, ProbeRequest{Address: "127.0.0.1", Kind: ProbeTCP, Port: port})
	if err != nil || !ok.OK || ok.Error != "" {
		t.Errorf("open port: %+v, %v", ok, err)
	}
	closed, err := Probe(t.Context(), nil, ProbeRequest{Address: "127.0.0.1", Kind: ProbeTCP, Port: closedPort(t), TimeoutMS: 300})
	if err != nil || closed.OK || !strings.Contains(closed.Error, "refused") {
		t.Errorf("closed port: %+v, %v", closed, err)
	}
	for _, req := range []ProbeRequest{
		{Address: "nope", Kind: ProbeTCP, Port: 1},
		{Address: "127.0.0.1", Kind: ProbeTCP},
		{Address: "127.0.0.1", Kind: "udp", Port: 1},
		{Address: "127.0.0.1", Kind: ProbeICMP, TimeoutMS: -1},
	} {
		if _, err := Probe(t.Context(), nil, req); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: err = %v, want ErrInvalid", req, err)
		}
	}
}

func TestProbeICMPLoopback(t *testing.T) {
	pinger, err := icmp.New()
	if err != nil {
		labtest.Skip(t, "raw ICMP needs root (CAP_NET_RAW): %v", err)
	}
	defer pinger.Close()
	res, err := Probe(t.Context(), pinger, ProbeRequest{Address: "127.0.0.1", Kind: ProbeICMP, TimeoutMS: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK || res.RTTMS <= 0 {
		t.Errorf("ICMP to loopback = %+v", res)
	}
}

func TestNotReadyRefusesActivation(t *testing.T) {
	rt := newFakeRuntime()
	a, err := NewAgent(context.Background(), testConfig(t.TempDir()), rt, AgentOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Activate(t.Context(), 1, "x"); !errors.Is(err, ErrNotReady) {
		t.Errorf("err = %v, want ErrNotReady", err)
	}
}
