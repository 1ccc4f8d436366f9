package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRunProxyArguments(t *testing.T) {
	minimal := plainMinimal(t)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no inventory", nil, 2, "usage: understudy proxy"},
		{"extra argument", []string{"-f", minimal, "x"}, 2, "usage: understudy proxy"},
		{"no listen address", []string{"-f", minimal, "--no-probe"}, 2, "no address to serve"},
		{"bad monitor url", []string{"-f", minimal, "--no-probe", "--listen", "127.0.0.1:0", "--monitor", "localhost:1"}, 2, "monitor url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			err := runProxy(context.Background(), tc.args, &bytes.Buffer{}, &stderr)
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != tc.code {
				t.Fatalf("err %v, want exit code %d", err, tc.code)
			}
			if out := stderr.String() + err.Error(); !strings.Contains(out, tc.want) {
				t.Fatalf("output %q does not mention %q", out, tc.want)
			}
		})
	}
}

func TestRunProxyStartsAndStops(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var stderr bytes.Buffer
	minimal := plainMinimal(t)
	err := runProxy(ctx, []string{"-f", minimal, "--no-probe",
		"--listen", "127.0.0.1:0", "--monitor", "http://127.0.0.1:1", "--metrics", "127.0.0.1:0"}, &bytes.Buffer{}, &stderr)
	if err != nil {
		t.Fatalf("runProxy: %v\n%s", err, stderr.String())
	}
	for _, want := range []string{"starting proxy", "stopping proxy"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, stderr.String())
		}
	}
}
