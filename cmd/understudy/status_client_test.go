package main

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/pki"
	"github.com/understudy/understudy/internal/tlsfiles"
)

// tlsMonitor serves the fake monitor over mutual TLS like monitor.api-tls
// and records the common name of every client certificate it served.
type tlsMonitor struct {
	srv  *httptest.Server
	dir  string // CA, monitor-api and operator certificates
	bad  string // another CA with its own operator certificate
	mu   sync.Mutex
	seen []string // "PATH CN"
}

func startTLSMonitor(t *testing.T) *tlsMonitor {
	t.Helper()
	m := &tlsMonitor{dir: t.TempDir(), bad: t.TempDir()}
	for _, err := range []error{
		pki.Init(m.dir), pki.Init(m.bad),
		pki.Issue(m.dir, m.dir, "operator", false, nil, time.Hour),
		pki.Issue(m.bad, m.bad, "operator", false, nil, time.Hour),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := pki.IssueWith(m.dir, m.dir, pki.IssueRequest{Name: "monitor-api", Server: true, AlsoClient: true, Hosts: []string{"127.0.0.1"}}, pki.Options{}); err != nil {
		t.Fatal(err)
	}
	tlsSrv, err := tlsfiles.NewServer(m.path("monitor-api.crt"), m.path("monitor-api.key"), m.path("ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	fake := newFakeMonitor()
	m.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		m.seen = append(m.seen, r.URL.Path+" "+r.TLS.PeerCertificates[0].Subject.CommonName)
		m.mu.Unlock()
		if r.URL.Path == "/v1/placements" {
			w.WriteHeader(http.StatusOK)
			<-r.Context().Done()
			return
		}
		fake.ServeHTTP(w, r)
	}))
	m.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	m.srv.TLS = tlsSrv.Config()
	m.srv.StartTLS()
	t.Cleanup(m.srv.Close)
	return m
}

func (m *tlsMonitor) path(f string) string { return filepath.Join(m.dir, f) }

func (m *tlsMonitor) served() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.seen...)
}

// withoutAPITLS is an inventory's text without its monitor.api-tls and
// monitor.api-client-tls lines.
func withoutAPITLS(text string) string {
	var kept []string
	for _, line := range strings.SplitAfter(text, "\n") {
		if !strings.HasPrefix(line, "  api-tls:") && !strings.HasPrefix(line, "  api-client-tls:") {
			kept = append(kept, line)
		}
	}
	return strings.Join(kept, "")
}

// plainMinimal writes examples/minimal.yaml without monitor.api-tls (a
// plain-HTTP API on loopback) and returns its path.
func plainMinimal(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../examples/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := filepath.Abs("../../examples/keys/tsig.key")
	text := strings.Replace(withoutAPITLS(string(b)), "tsig-key-file: keys/tsig.key", "tsig-key-file: "+key, 1)
	path := filepath.Join(t.TempDir(), "minimal.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// inventory writes examples/minimal.yaml with monitor.listen at the fake
// monitor and monitor.api-tls (and api-client-tls with clientTLS) set.
func (m *tlsMonitor) inventory(t *testing.T, clientTLS bool) string {
	t.Helper()
	b, err := os.ReadFile("../../examples/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := filepath.Abs("../../examples/keys/tsig.key")
	lines := "  listen: " + strings.TrimPrefix(m.srv.URL, "https://") + "\n" +
		"  api-tls: {ca: " + m.path("ca.crt") + ", cert: " + m.path("monitor-api.crt") + ", key: " + m.path("monitor-api.key") + "}\n"
	if clientTLS {
		lines += "  api-client-tls: {ca: " + m.path("ca.crt") + ", cert: " + m.path("operator.crt") + ", key: " + m.path("operator.key") + "}\n"
	}
	text := strings.Replace(withoutAPITLS(string(b)), "tsig-key-file: keys/tsig.key", "tsig-key-file: "+key, 1)
	text = strings.Replace(text, "  listen: 127.0.0.1:9180\n", lines, 1)
	text += "proxy: {listen: 127.0.0.1:8080}\n" // the tests serve --listen 127.0.0.1:0
	path := filepath.Join(t.TempDir(), "inv.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMonitorClientTLSFlags(t *testing.T) {
	m := startTLSMonitor(t)
	flags := func(dir string) []string {
		return []string{"--tls-ca", m.path("ca.crt"), "--tls-cert", filepath.Join(dir, "operator.crt"), "--tls-key", filepath.Join(dir, "operator.key")}
	}
	withClient, withoutClient := m.inventory(t, true), m.inventory(t, false)
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		want     string // in stdout
		wantErr  string // in the error or stderr
		wantCN   string // the client certificate the monitor saw
	}{
		{name: "status --url with the flags", args: append([]string{"status", "--url", m.srv.URL}, flags(m.dir)...),
			want: "on-standby", wantCN: "operator"},
		{name: "status -f: api-client-tls", args: []string{"status", "-f", withClient}, want: "on-standby", wantCN: "operator"},
		{name: "status -f: api-tls for a client on the monitor's host", args: []string{"status", "-f", withoutClient},
			want: "on-standby", wantCN: "monitor-api"},
		{name: "migrate --url with the flags", args: append([]string{"migrate", "--url", m.srv.URL, "--service", "web", "--dry-run"}, flags(m.dir)...),
			want: "spare-1", wantCN: "operator"},
		{name: "failback -f", args: []string{"failback", "-f", withClient, "--service", "web", "--wait", "0"},
			want: "failing back web", wantCN: "operator"},
		{name: "no client certificate", args: []string{"status", "--url", m.srv.URL}, wantCode: 1, wantErr: "certificate"},
		{name: "a client certificate of another CA", args: append([]string{"status", "--url", m.srv.URL}, flags(m.bad)...),
			wantCode: 1, wantErr: "certificate"},
		{name: "one flag of three", args: []string{"status", "--url", m.srv.URL, "--tls-ca", m.path("ca.crt")},
			wantCode: 2, wantErr: "set --tls-ca, --tls-cert and --tls-key together"},
		{name: "migrate, two flags of three", args: []string{"migrate", "-f", withClient, "--service", "web", "--tls-cert", "x", "--tls-key", "y"},
			wantCode: 2, wantErr: "set --tls-ca, --tls-cert and --tls-key together"},
		{name: "missing certificate file", args: []string{"status", "--url", m.srv.URL, "--tls-ca", m.path("ca.crt"), "--tls-cert", "/nonexistent.crt", "--tls-key", "/nonexistent.key"},
			wantCode: 1, wantErr: "/nonexistent.crt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(m.served())
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tc.wantCode, stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.want) {
				t.Errorf("stdout lacks %q:\n%s", tc.want, stdout.String())
			}
			if !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tc.wantErr)
			}
			seen := m.served()[before:]
			if tc.wantCN == "" && len(seen) > 0 {
				t.Errorf("the monitor served %v, want nothing", seen)
			}
			for _, s := range seen {
				if !strings.HasSuffix(s, " "+tc.wantCN) {
					t.Errorf("the monitor served %q, want client %q", s, tc.wantCN)
				}
			}
			if tc.wantCN != "" && len(seen) == 0 {
				t.Error("the monitor served nothing")
			}
		})
	}
}

// TestProxyStreamsOverMutualTLS: the proxy reaches an api-tls monitor at
// its https default URL with monitor.api-client-tls.
func TestProxyStreamsOverMutualTLS(t *testing.T) {
	m := startTLSMonitor(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	var stderr bytes.Buffer
	go func() {
		done <- runProxy(ctx, []string{"-f", m.inventory(t, true), "--no-probe", "--listen", "127.0.0.1:0"}, &bytes.Buffer{}, &stderr)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !containsPrefix(m.served(), "/v1/placements operator") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("runProxy: %v\n%s", err, stderr.String())
	}
	if !containsPrefix(m.served(), "/v1/placements operator") {
		t.Errorf("the monitor never served the proxy's placement stream with the operator certificate: %v\n%s", m.served(), stderr.String())
	}
}

func containsPrefix(ss []string, p string) bool {
	for _, s := range ss {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// TestMonitorClientsSendTheToken: against a plain-HTTP API, the commands
// send the bearer token of monitor.api-token-file (-f) or --token-file,
// and refuse a token file others can read.
func TestMonitorClientsSendTheToken(t *testing.T) {
	fake := newFakeMonitor()
	var mu sync.Mutex
	var seen []string // "METHOD PATH TOKEN"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "api.token")
	if err := os.WriteFile(tokenFile, []byte("cmd-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(plainMinimal(t))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(b), "  listen: 127.0.0.1:9180\n", "  listen: "+strings.TrimPrefix(srv.URL, "http://")+"\n  api-token-file: "+tokenFile+"\n", 1)
	inv := filepath.Join(dir, "inv.yaml")
	if err := os.WriteFile(inv, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"failback", "-f", inv, "--service", "web", "--wait", "0"},
		{"migrate", "--url", srv.URL, "--token-file", tokenFile, "--service", "web", "--dry-run"},
	} {
		mu.Lock()
		before := len(seen)
		mu.Unlock()
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
			t.Fatalf("%v: exit %d (stderr %q)", args, code, stderr.String())
		}
		mu.Lock()
		var posted bool
		for _, s := range seen[before:] {
			if strings.HasPrefix(s, "POST ") {
				posted = true
				if !strings.HasSuffix(s, " Bearer cmd-token") {
					t.Errorf("%v: %q, want the bearer token", args, s)
				}
			}
		}
		mu.Unlock()
		if !posted {
			t.Errorf("%v posted nothing", args)
		}
		if strings.Contains(stdout.String()+stderr.String(), "cmd-token") {
			t.Errorf("%v printed the token", args)
		}
	}
	if err := os.Chmod(tokenFile, 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"status", "-f", inv}, &bytes.Buffer{}, &stderr); code != 1 || !strings.Contains(stderr.String(), "0600") {
		t.Errorf("a world-readable token file: exit %d, stderr %q; want 1 naming the mode", code, stderr.String())
	}
}
