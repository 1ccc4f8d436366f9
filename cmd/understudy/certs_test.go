package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
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
		{[]string{"certs", "issue", "--ca", ca, "--name", "x"}, 2, "exactly one of"},
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
	for _, f := range []string{"agent.crt", "agent.key", "monitor.crt", "monitor.key"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
}
