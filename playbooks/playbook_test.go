package playbooks

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultsParse(t *testing.T) {
	names := Names()
	if strings.Join(names, ",") != "cold,restore,warm" {
		t.Fatalf("Names() = %v, want cold, restore, warm", names)
	}
	for _, name := range names {
		pb, err := Default(name)
		if err != nil {
			t.Fatalf("default %s: %v", name, err)
		}
		if pb.Index(Activate) < 0 || pb.Index(DNSReplace) < pb.Index(Activate) {
			t.Errorf("default %s: activate/dns-replace order wrong: %+v", name, pb.Steps)
		}
		if pb.Steps[0].Kind != Confirm {
			t.Errorf("default %s: first step %s, want confirm", name, pb.Steps[0].Kind)
		}
	}
	if _, err := Default("nope"); err == nil {
		t.Fatal("Default(nope) succeeded")
	}
}

func TestParseCustomFile(t *testing.T) {
	pb, err := Load(filepath.Join("testdata", "custom.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Kind{Fence, Activate, Wait, WaitHealthy, DNSReplace, Exec, Notify}
	if len(pb.Steps) != len(want) {
		t.Fatalf("got %d steps, want %d", len(pb.Steps), len(want))
	}
	for i, k := range want {
		if pb.Steps[i].Kind != k {
			t.Errorf("step %d = %s, want %s", i, pb.Steps[i].Kind, k)
		}
	}
	act := pb.Steps[1]
	if act.Timeout != 10*time.Second || act.Attempts() != 4 || act.Retry.Backoff != time.Second {
		t.Errorf("activate = %+v", act)
	}
	if pb.Steps[0].Timeout != Fence.DefaultTimeout() || !pb.Steps[0].Rerunnable() {
		t.Errorf("fence = %+v, want default timeout and rerunnable", pb.Steps[0])
	}
	if pb.Steps[2].Duration != 2*time.Second {
		t.Errorf("wait duration = %v", pb.Steps[2].Duration)
	}
	if got := strings.Join(pb.Steps[5].Command, " "); got != "/usr/local/bin/after-failover --quiet" {
		t.Errorf("exec command = %q", got)
	}
	if pb.Steps[5].Rerunnable() || !pb.Steps[1].Rerunnable() {
		t.Error("exec must not be rerunnable by default; activate must be")
	}
	if pb.Steps[6].URL != "https://hooks.example.net/understudy" || pb.Steps[6].Line != 15 {
		t.Errorf("notify = %+v", pb.Steps[6])
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string // every line of the error, in order
	}{
		{"not a list", "step: activate\n", []string{`t.yaml:1:1: want a list of steps, got a mapping`}},
		{"empty", "", []string{`t.yaml:1:1: empty playbook: want a list of steps`}},
		{"unknown step", "- step: reboot\n", []string{`t.yaml:1:9: steps[0].step: unknown step "reboot" (want one of confirm, fence, activate, wait-healthy, dns-replace, notify, exec, wait)`}},
		{"missing step", "- timeout: 1s\n", []string{"t.yaml:1:3: steps[0]: missing `step` (one of confirm, fence, activate, wait-healthy, dns-replace, notify, exec, wait)"}},
		{"unknown key", "- step: activate\n  timout: 1s\n", []string{`t.yaml:2:3: steps[0].timout: unknown key, did you mean "timeout"?`}},
		{"key of another kind", "- step: activate\n  url: http://x\n", []string{"t.yaml:2:8: steps[0].url: `url` does not apply to step activate"}},
		{"bad duration", "- step: activate\n  timeout: soon\n", []string{`t.yaml:2:12: steps[0].timeout: invalid duration "soon": write a number with a unit, such as 250ms, 10s or 1h`}},
		{"bad attempts", "- step: activate\n  retry: {attempts: 0}\n", []string{`t.yaml:2:21: steps[0].retry.attempts: want an integer from 1 to 100, got "0"`}},
		{"duplicate key", "- step: activate\n  step: fence\n", []string{`t.yaml:2:3: steps[0].step: key "step" appears twice`}},
		{"exec without command", "- step: activate\n- step: exec\n", []string{`t.yaml:2:3: steps[1].command: exec needs a non-empty command`}},
		{"wait without duration", "- step: activate\n- step: wait\n", []string{`t.yaml:2:3: steps[1].duration: wait needs a positive duration`}},
		{"bad url", "- step: activate\n- step: notify\n  url: ftp://x\n", []string{`t.yaml:3:8: steps[1].url: want an http or https URL, got "ftp://x"`}},
		{"no activate", "- step: fence\n- step: wait-healthy\n", []string{`t.yaml:1:1: steps: no activate step: a playbook must activate the standby`}},
		{"confirm not first", "- step: activate\n- step: wait-healthy\n- step: confirm\n", []string{`t.yaml:3:3: steps[2]: confirm must be the first step`}},
		{"dns before activate", "- step: wait-healthy\n- step: dns-replace\n- step: activate\n", []string{`t.yaml:1:3: steps[0]: wait-healthy must come after activate`, `t.yaml:2:3: steps[1]: dns-replace must come after activate`}},
		{"fence after activate", "- step: activate\n- step: fence\n- step: wait-healthy\n", []string{`t.yaml:2:3: steps[1]: fence must come before activate`}},
		{"unknown retry key", "- step: activate\n  retry: {attempt: 3}\n", []string{`t.yaml:2:11: steps[0].retry.attempt: unknown key, did you mean "attempts"?`}},
		{"retry not a mapping", "- step: activate\n  retry: 3\n", []string{`t.yaml:2:10: steps[0].retry: want a mapping {attempts, backoff, max-backoff, budget}, got integer 3`}},
		{"too long", "- step: activate\n  timeout: 25h\n", []string{`t.yaml:2:12: steps[0].timeout: duration "25h" is longer than 24h`}},
		{"two activates", "- step: activate\n- step: activate\n- step: wait-healthy\n", []string{`t.yaml:1:1: steps: activate appears 2 times; at most once`}},
		{"all errors at once", "- step: activate\n  timeout: x\n- step: nope\n", []string{
			`t.yaml:2:12: steps[0].timeout: invalid duration "x": write a number with a unit, such as 250ms, 10s or 1h`,
			`t.yaml:3:9: steps[1].step: unknown step "nope" (want one of confirm, fence, activate, wait-healthy, dns-replace, notify, exec, wait)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tt.src))
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			if _, ok := errorsAs(err); !ok {
				t.Errorf("error is %T, want Errors", err)
			}
			if got, want := err.Error(), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("error:\n got: %s\nwant: %s", got, want)
			}
		})
	}
}

// TestPlaybookNeedsWaitHealthyBeforeDNSReplace: clients are never sent to an
// address whose service check has not passed, so a playbook that omits
// wait-healthy, or checks only after the DNS flip, is refused at parse
// (validate) time with the position of the problem.
func TestPlaybookNeedsWaitHealthyBeforeDNSReplace(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"omitted", "- step: activate\n- step: dns-replace\n",
			"t.yaml:1:1: steps: no wait-healthy step: DNS must not point at a standby whose service check has not passed"},
		{"after dns-replace", "- step: activate\n- step: dns-replace\n- step: wait-healthy\n",
			"t.yaml:3:3: steps[2]: wait-healthy must come before dns-replace (steps[1])"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tt.src))
			if err == nil {
				t.Fatal("Parse accepted the playbook")
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n got: %s\nwant: %s", err, tt.want)
			}
		})
	}
	for _, ok := range []string{
		"- step: activate\n- step: wait-healthy\n- step: dns-replace\n",
		"- step: activate\n- step: wait-healthy\n- step: dns-replace\n- step: wait-healthy\n",
	} {
		if _, err := Parse("t.yaml", []byte(ok)); err != nil {
			t.Errorf("Parse(%q): %v", ok, err)
		}
	}
}

func TestForPrefersFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(path, []byte("- step: activate\n- step: wait-healthy\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pb, err := For("warm", path)
	if err != nil {
		t.Fatal(err)
	}
	if pb.Name != path || len(pb.Steps) != 2 {
		t.Errorf("For(file) = %+v", pb)
	}
	pb, err = For("cold", "")
	if err != nil || pb.Name != "cold" {
		t.Fatalf("For(cold) = %+v, %v", pb, err)
	}
	if _, err := For("warm", filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("For(missing file) succeeded")
	}
}

func FuzzParse(f *testing.F) {
	for _, n := range Names() {
		src, _ := Source(n)
		f.Add(src)
	}
	f.Add([]byte("- step: activate\n  retry: {attempts: 3, backoff: 1s}\n- step: wait-healthy\n"))
	f.Add([]byte("- step: activate\n  retry: {backoff: 1s, max-backoff: 5s, budget: 2m}\n- step: wait-healthy\n- step: dns-replace\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pb, err := Parse("fuzz.yaml", data)
		if err == nil && pb.Index(Activate) < 0 {
			t.Fatalf("accepted a playbook without activate: %q", data)
		}
		if err == nil && (pb.Index(WaitHealthy) < 0 || (pb.Index(DNSReplace) >= 0 && pb.Index(WaitHealthy) > pb.Index(DNSReplace))) {
			t.Fatalf("accepted a playbook that flips DNS before a health check: %q", data)
		}
		if err != nil {
			if _, ok := errorsAs(err); !ok {
				t.Fatalf("error %T is not Errors", err)
			}
		}
	})
}

func TestParseRetryBudget(t *testing.T) {
	pb, err := Parse("t.yaml", []byte("- step: activate\n  retry: {backoff: 250ms, max-backoff: 2s, budget: 2m}\n- step: wait-healthy\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := pb.Steps[0].Retry
	if r.Backoff != 250*time.Millisecond || r.MaxBackoff != 2*time.Second || r.Budget != 2*time.Minute || pb.Steps[0].Attempts() < 1000 {
		t.Errorf("retry = %+v, attempts %d; want the budget alone to bound the attempts", r, pb.Steps[0].Attempts())
	}
	var got []time.Duration
	for n := 1; n <= 6; n++ {
		got = append(got, r.Delay(n))
	}
	want := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("delays %v, want %v", got, want)
	}
	if _, err := Parse("t.yaml", []byte("- step: activate\n  retry: {budget: 0s}\n- step: wait-healthy\n")); err == nil ||
		err.Error() != `t.yaml:2:19: steps[0].retry.budget: want a positive duration, got "0s"` {
		t.Errorf("zero budget: %v", err)
	}
}
