package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestInitIssueVerify(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca")
	if err := Init(ca); err != nil {
		t.Fatalf("Init: %v", err)
	}
	out := filepath.Join(dir, "out")
	if err := Issue(ca, out, "agent", true, []string{"127.0.0.1", "localhost"}, 0); err != nil {
		t.Fatalf("Issue server: %v", err)
	}
	if err := Issue(ca, out, "monitor", false, nil, time.Hour); err != nil {
		t.Fatalf("Issue client: %v", err)
	}
	caCert, _, err := LoadCA(ca)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)

	tests := []struct {
		name  string
		usage x509.ExtKeyUsage
		host  string
	}{
		{"agent", x509.ExtKeyUsageServerAuth, "127.0.0.1"},
		{"agent", x509.ExtKeyUsageServerAuth, "localhost"},
		{"monitor", x509.ExtKeyUsageClientAuth, ""},
	}
	for _, tc := range tests {
		pair, err := tls.LoadX509KeyPair(filepath.Join(out, tc.name+".crt"), filepath.Join(out, tc.name+".key"))
		if err != nil {
			t.Fatalf("%s: load pair: %v", tc.name, err)
		}
		cert, err := x509.ParseCertificate(pair.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		opts := x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{tc.usage}}
		if tc.host != "" {
			opts.DNSName = tc.host
		}
		if _, err := cert.Verify(opts); err != nil {
			t.Errorf("%s (host %q): verify: %v", tc.name, tc.host, err)
		}
	}
	// A client certificate must not pass as a server certificate.
	pair, _ := tls.LoadX509KeyPair(filepath.Join(out, "monitor.crt"), filepath.Join(out, "monitor.key"))
	cert, _ := x509.ParseCertificate(pair.Certificate[0])
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Error("client certificate verified for server auth")
	}
	srv, _ := tls.LoadX509KeyPair(filepath.Join(out, "agent.crt"), filepath.Join(out, "agent.key"))
	sc, _ := x509.ParseCertificate(srv.Certificate[0])
	if len(sc.IPAddresses) != 1 || !sc.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")) {
		t.Errorf("server IP SANs = %v, want [127.0.0.1]", sc.IPAddresses)
	}
}

func TestKeyModesAndNoOverwrite(t *testing.T) {
	dir := t.TempDir()
	if err := Init(dir); err != nil {
		t.Fatal(err)
	}
	if err := Issue(dir, dir, "c", false, nil, 0); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{CAKeyFile, "c.key"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v, want 0600", f, st.Mode().Perm())
		}
	}
	before, _ := os.ReadFile(filepath.Join(dir, CACertFile))
	if err := Init(dir); !errors.Is(err, ErrExists) {
		t.Errorf("second Init: err = %v, want ErrExists", err)
	}
	if err := Issue(dir, dir, "c", false, nil, 0); !errors.Is(err, ErrExists) {
		t.Errorf("second Issue: err = %v, want ErrExists", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, CACertFile))
	if string(before) != string(after) {
		t.Error("refused Init still changed ca.crt")
	}
	if err := InitWith(dir, Options{Force: true}); err != nil {
		t.Errorf("forced Init: %v", err)
	}
	if _, _, err := IssueWith(dir, dir, IssueRequest{Name: "c"}, Options{Force: true}); err != nil {
		t.Errorf("forced Issue: %v", err)
	}
}

func TestIssueInvalid(t *testing.T) {
	dir := t.TempDir()
	if err := Init(dir); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		desc string
		req  IssueRequest
	}{
		{"empty name", IssueRequest{Name: ""}},
		{"path in name", IssueRequest{Name: "../x"}},
		{"server without hosts", IssueRequest{Name: "s", Server: true}},
		{"negative validity", IssueRequest{Name: "s", Validity: -time.Hour}},
	}
	for _, tc := range tests {
		if _, _, err := IssueWith(dir, dir, tc.req, Options{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", tc.desc, err)
		}
	}
	if err := Issue(filepath.Join(dir, "missing"), dir, "x", false, nil, 0); err == nil {
		t.Error("Issue with a missing CA succeeded")
	}
}

// TestIssueServerAlsoClient: a certificate with both usages verifies as a
// server (for its host) and as a client; AlsoClient alone is refused.
func TestIssueServerAlsoClient(t *testing.T) {
	dir := t.TempDir()
	if err := Init(dir); err != nil {
		t.Fatal(err)
	}
	certPath, keyPath, err := IssueWith(dir, dir, IssueRequest{Name: "monitor-api", Server: true, AlsoClient: true, Hosts: []string{"127.0.0.1"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(pair.Certificate[0])
	caCert, _, _ := LoadCA(dir)
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	for _, tc := range []struct {
		usage x509.ExtKeyUsage
		host  string
	}{{x509.ExtKeyUsageServerAuth, "127.0.0.1"}, {x509.ExtKeyUsageClientAuth, ""}} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: tc.host, KeyUsages: []x509.ExtKeyUsage{tc.usage}}); err != nil {
			t.Errorf("usage %v: %v", tc.usage, err)
		}
	}
	if _, _, err := IssueWith(dir, dir, IssueRequest{Name: "c", AlsoClient: true}, Options{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("AlsoClient without Server: err = %v, want ErrInvalid", err)
	}
}
