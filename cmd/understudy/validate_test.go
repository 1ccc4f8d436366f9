package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestValidateCommand(t *testing.T) {
	const (
		realistic = "../../examples/realistic.yaml"
		five      = "../../inventory/testdata/invalid-five-mistakes.yaml"
	)
	for _, tc := range []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantLines  int    // lines on stderr, when wantPositioned
		wantStderr string // a substring of stderr
		positioned bool   // every stderr line is FILE:LINE:COL: path: message
	}{
		{name: "valid", args: []string{"-f", realistic}, wantCode: 0,
			wantStdout: realistic + ": ok: 3 hypervisors, 12 VMs, 20 services (14 warm, 6 cold), 2 standby VMs, 3 spares\n"},
		{name: "quiet", args: []string{"-q", "-f", realistic}, wantCode: 0},
		{name: "five mistakes", args: []string{"-f", five}, wantCode: 1, wantLines: 5, positioned: true},
		{name: "missing file", args: []string{"-f", "no-such.yaml"}, wantCode: 1, wantStderr: "read inventory: open no-such.yaml"},
		{name: "no -f", args: nil, wantCode: 2, wantStderr: "usage: understudy validate -f FILE"},
		{name: "extra argument", args: []string{"-f", realistic, "more"}, wantCode: 2, wantStderr: "usage:"},
		{name: "bad flag", args: []string{"-x"}, wantCode: 2, wantStderr: "flag provided but not defined"},
		{name: "help", args: []string{"-h"}, wantCode: 0, wantStderr: "-q"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"validate"}, tc.args...), &stdout, &stderr)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.wantCode, stderr.String())
			}
			if stdout.String() != tc.wantStdout {
				t.Errorf("stdout %q, want %q", stdout.String(), tc.wantStdout)
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tc.wantStderr)
			}
			if tc.positioned {
				lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
				if len(lines) != tc.wantLines {
					t.Errorf("%d lines on stderr, want %d:\n%s", len(lines), tc.wantLines, stderr.String())
				}
				re := regexp.MustCompile(`^` + regexp.QuoteMeta(tc.args[len(tc.args)-1]) + `:\d+:\d+: [a-z\[\]0-9.-]+: .+`)
				for _, l := range lines {
					if !re.MatchString(l) {
						t.Errorf("line %q is not FILE:LINE:COL: path: message", l)
					}
				}
			}
		})
	}
}

// TestValidateWarnsKeyFileMode: a key file others may read still validates
// (exit 0), with a positioned warning on stderr that says how to fix it.
func TestValidateWarnsKeyFileMode(t *testing.T) {
	dir := t.TempDir()
	doc, err := os.ReadFile("../../examples/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile("../../examples/keys/tsig.key")
	if err != nil {
		t.Fatal(err)
	}
	inv := filepath.Join(dir, "inv.yaml")
	if err := os.WriteFile(inv, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "keys"), 0o700); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "keys", "tsig.key")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"validate", "-q", "-f", inv}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d, want 0 (stderr %q)", code, stderr.String())
	}
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(inv) + `:\d+:\d+: warning: dns\.tsig-key-file: .*mode 0644.*chmod 600 ` + regexp.QuoteMeta(keyFile) + "\n$")
	if !re.MatchString(stderr.String()) {
		t.Errorf("stderr %q, want one FILE:LINE:COL: warning: dns.tsig-key-file: ... chmod 600 line", stderr.String())
	}
}
