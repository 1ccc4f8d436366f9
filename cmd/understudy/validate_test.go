package main

import (
	"bytes"
	"context"
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
