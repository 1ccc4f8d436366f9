package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/understudy/understudy/playbooks"
)

func TestPlaybookShowsTheBuiltInMoves(t *testing.T) {
	for name, build := range moves {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), []string{"playbook", "show", name}, &out, &errOut); code != 0 {
			t.Fatalf("playbook show %s: exit %d: %s", name, code, errOut.String())
		}
		// What it prints is YAML in the playbook format, step for step.
		var steps []struct {
			Step    string
			Timeout string
			Retry   struct {
				Attempts int
				Backoff  string
			}
			Idempotent bool
		}
		if err := yaml.Unmarshal(out.Bytes(), &steps); err != nil {
			t.Fatalf("playbook show %s printed no YAML: %v\n%s", name, err, out.String())
		}
		want := build()
		if len(steps) != len(want.Steps) {
			t.Fatalf("%s: %d steps printed, want %d", name, len(steps), len(want.Steps))
		}
		for i, st := range want.Steps {
			got := steps[i]
			timeout, _ := time.ParseDuration(got.Timeout)
			attempts, backoff := max(got.Retry.Attempts, 1), time.Duration(0)
			if got.Retry.Backoff != "" {
				backoff, _ = time.ParseDuration(got.Retry.Backoff)
			}
			if playbooks.Kind(got.Step) != st.Kind || timeout != st.Timeout || attempts != st.Attempts() ||
				(attempts > 1 && backoff != st.Retry.Backoff) || got.Idempotent != st.Idempotent {
				t.Errorf("%s step %d printed as %+v, want %+v", name, i, got, st)
			}
		}
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"playbook", "list"}, &out, &bytes.Buffer{}); code != 0 || !strings.Contains(out.String(), "migrate (built in)") {
		t.Errorf("playbook list: exit %d:\n%s", code, out.String())
	}
}
