package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestCertsCommand(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca")
	out := filepath.Join(dir, "out")
	steps := []struct {
		args     []string
		wantCode int
		wantErr  string
	}{
		{[]string{"certs", "init", ca}, 0, ""},
		{[]string{"certs", "init", ca}, 1, "file exists"},
		{[]string{"certs", "init", ca, "--force"}, 0, ""},
		{[]string{"certs", "issue", "--ca", ca, "--name", "agent", "--server", "--host", "127.0.0.1,localhost", "--out", out}, 0, ""},
		{[]string{"certs", "issue", "--ca", ca, "--name", "monitor", "--client", "--out", out}, 0, ""},
		{[]string{"certs", "issue", "--ca", ca, "--name", "x", "--server"}, 2, "--server needs --host"},
		{[]string{"certs", "issue", "--ca", ca, "--name", "mon-api", "--server", "--client", "--host", "127.0.0.1", "--out", out}, 0, ""},
		{[]string{"certs", "issue", "--ca", ca, "--name", "x"}, 2, "give --server, --client, or both"},
		{[]string{"certs", "issue", "--ca", ca, "--name", "x", "--client", "--host", "h"}, 2, "--host only applies to --server"},
		{[]string{"certs", "issue", "--name", "x", "--client"}, 2, "--ca and --name are required"},
		{[]string{"certs", "bogus"}, 2, "unknown certs command"},
	}
	for _, s := range steps {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), s.args, &stdout, &stderr)
		if code != s.wantCode {
			t.Errorf("%v: exit %d, want %d (stderr %q)", s.args, code, s.wantCode, stderr.String())
		}
		if s.wantErr != "" && !strings.Contains(stderr.String(), s.wantErr) {
			t.Errorf("%v: stderr %q does not mention %q", s.args, stderr.String(), s.wantErr)
		}
	}
	for _, f := range []string{"agent.crt", "agent.key", "monitor.crt", "monitor.key", "mon-api.crt", "mon-api.key"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
}

// TestCertsIssueServerAndClient: --server --client issues one certificate
// with both usages, as monitor.api-tls needs.
func TestCertsIssueServerAndClient(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"certs", "init", dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("certs init: exit %d: %s", code, stderr.String())
	}
	args := []string{"certs", "issue", "--ca", dir, "--name", "monitor-api", "--server", "--client", "--host", "127.0.0.1"}
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("certs issue: exit %d: %s", code, stderr.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "monitor-api.crt"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatal("no PEM block in monitor-api.crt")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if !slices.Contains(cert.ExtKeyUsage, u) {
			t.Errorf("usages %v lack %v", cert.ExtKeyUsage, u)
		}
	}
}
