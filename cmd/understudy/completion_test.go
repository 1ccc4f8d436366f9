package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/understudy/understudy/internal/clidoc"
	"github.com/understudy/understudy/internal/labtest"
)

// completionScript writes `understudy completion SHELL` into a file.
func completionScript(t *testing.T, shell string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"completion", shell}, &stdout, &stderr); code != 0 {
		t.Fatalf("completion %s: exit %d: %s", shell, code, stderr.String())
	}
	path := filepath.Join(t.TempDir(), "understudy."+shell)
	if err := os.WriteFile(path, stdout.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// needTool is labtest.Tool for the tools examples/packaging/deps.sh
// installs.
func needTool(t *testing.T, name string) string {
	return labtest.Tool(t, name, "bash examples/packaging/deps.sh")
}

// TestCompletionScriptsParse checks each shell's script with the shell's
// own syntax check (bash -n, zsh -n, fish -n).
func TestCompletionScriptsParse(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		t.Run(shell, func(t *testing.T) {
			script := completionScript(t, shell)
			out, err := exec.Command(needTool(t, shell), "-n", script).CombinedOutput()
			if err != nil || len(out) > 0 {
				t.Fatalf("%s -n: %v: %s", shell, err, out)
			}
		})
	}
}

// TestBashCompletionCompletes runs the bash function on command lines.
func TestBashCompletionCompletes(t *testing.T) {
	bash := needTool(t, "bash")
	script := completionScript(t, "bash")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "inv.yaml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		line string // the words; the last one is being completed
		want []string
		not  []string
	}{
		{"understudy val", []string{"validate"}, nil},
		{"understudy validate -", []string{"-f", "-q"}, []string{"--service"}},
		{"understudy certs ", []string{"init", "issue"}, nil},
		{"understudy certs issue --c", []string{"--ca", "--client"}, []string{"--config"}},
		{"understudy drill history --", []string{"--file", "--service"}, []string{"--inject"}},
		{"understudy drill --inj", []string{"--inject"}, nil},
		{"understudy validate -f inv", []string{"inv.yaml"}, nil},
		{"understudy dns --server ", nil, []string{"get", "set"}},
		{"understudy dns ", []string{"get", "set"}, nil},
	} {
		words := strings.Split(tc.line, " ")
		prog := "source " + clidoc.ShellQuote(script) + "\nCOMP_WORDS=("
		for _, w := range words {
			prog += clidoc.ShellQuote(w) + " "
		}
		prog += ")\nCOMP_CWORD=" + strconv.Itoa(len(words)-1) + "\n_understudy\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
		cmd := exec.Command(bash, "--norc", "--noprofile", "-c", prog)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v: %s", tc.line, err, out)
		}
		got := strings.Fields(string(out))
		checkCompletions(t, tc.line, got, tc.want, tc.not)
	}
}

// TestFishCompletionCompletes asks fish itself (`complete -C`).
func TestFishCompletionCompletes(t *testing.T) {
	fish := needTool(t, "fish")
	script := completionScript(t, "fish")
	for _, tc := range []struct {
		line      string
		want, not []string
	}{
		{"understudy val", []string{"validate"}, nil},
		{"understudy certs ", []string{"init", "issue"}, nil},
		{"understudy certs issue --", []string{"--ca", "--days"}, []string{"--force-files"}},
		{"understudy drill --", []string{"--inject", "--service"}, []string{"--file"}},
		{"understudy drill history --", []string{"--file"}, []string{"--inject"}},
		{"understudy validate -", []string{"-f", "-q"}, nil},
	} {
		cmd := exec.Command(fish, "--no-config", "-c", "source "+clidoc.ShellQuote(script)+"; complete -C "+clidoc.ShellQuote(tc.line))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v: %s", tc.line, err, out)
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			got = append(got, strings.SplitN(l, "\t", 2)[0])
		}
		checkCompletions(t, tc.line, got, tc.want, tc.not)
	}
}

func checkCompletions(t *testing.T, line string, got, want, not []string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("%q: completions %q lack %q", line, got, w)
		}
	}
	for _, n := range not {
		if slices.Contains(got, n) {
			t.Errorf("%q: completions %q hold %q", line, got, n)
		}
	}
}

// TestCompletionUsage: an unknown or missing shell is a usage error.
func TestCompletionUsage(t *testing.T) {
	for _, args := range [][]string{{"completion"}, {"completion", "tcsh"}, {"completion", "bash", "zsh"}} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
		if !strings.Contains(stderr.String(), "usage: understudy completion bash|zsh|fish") || stdout.Len() != 0 {
			t.Errorf("%q: stdout %q stderr %q", args, stdout.String(), stderr.String())
		}
	}
}
