package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAgentCommandConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(bad, []byte("listen: 127.0.0.1:9443\nlisten-port: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args     []string
		wantCode int
		wantErr  string
	}{
		{[]string{"agent", "--config", bad}, 2, bad + ":2:1: listen-port: unknown key"},
		{[]string{"agent", "--config", filepath.Join(dir, "missing.yaml")}, 2, "read config"},
		{[]string{"agent", "--log-level", "loud", "--config", bad}, 2, "--log-level"},
		{[]string{"agent", "extra"}, 2, "unexpected arguments"},
	}
	for _, tc := range tests {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tc.args, &stdout, &stderr)
		if code != tc.wantCode || !strings.Contains(stderr.String(), tc.wantErr) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, stderr.String(), tc.wantCode, tc.wantErr)
		}
	}
}
