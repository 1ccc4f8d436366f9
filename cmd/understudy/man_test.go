package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/understudy/understudy/internal/clidoc"
)

// TestManPages writes the pages and checks each with groff's and man's
// warnings (none allowed), and that every command and flag has its entry.
func TestManPages(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"man", dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("man: exit %d: %s", code, stderr.String())
	}
	cmds := describeCommands(context.Background())
	pages := map[string]string{}
	for _, name := range append([]string{"understudy.1"}, func() []string {
		var n []string
		for _, c := range cmds {
			n = append(n, "understudy-"+c.Name+".1")
		}
		return n
	}()...) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("page %s: %v", name, err)
		}
		pages[name] = string(b)
	}
	for _, c := range cmds {
		page := pages["understudy-"+c.Name+".1"]
		if !strings.Contains(pages["understudy.1"], ".B "+clidoc.RoffEscape(c.Name)+"\n") {
			t.Errorf("understudy.1 lacks command %s", c.Name)
		}
		flags := c.Flags
		for _, s := range c.Subs {
			if s.Own {
				flags = append(flags, s.Flags...)
			}
		}
		for _, f := range flags {
			if !strings.Contains(page, clidoc.RoffEscape(f.Dashed())) {
				t.Errorf("understudy-%s.1 lacks %s", c.Name, f.Dashed())
			}
		}
	}
	if p := pages["understudy-validate.1"]; !strings.Contains(p, "understudy validate \\-f FILE [\\-q]") || !strings.Contains(p, ".BI \"\\-f \" FILE") {
		t.Errorf("understudy-validate.1 =\n%s", p)
	}
	groff := needTool(t, "groff")
	man := needTool(t, "man")
	for name := range pages {
		path := filepath.Join(dir, name)
		out, err := exec.Command(groff, "-z", "-wall", "-man", path).CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("groff -z -wall %s: %v: %s", name, err, out)
		}
		cmd := exec.Command(man, "--warnings", "-E", "UTF-8", "-l", path)
		cmd.Env = append(os.Environ(), "MANWIDTH=80", "MANPAGER=cat", "PAGER=cat")
		var warn bytes.Buffer
		cmd.Stderr = &warn
		if err := cmd.Run(); err != nil || warn.Len() > 0 {
			t.Errorf("man --warnings -l %s: %v: %s", name, err, warn.String())
		}
	}
}

// TestManUsage: man needs exactly one directory.
func TestManUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"man"}, &stdout, &stderr); code != 2 {
		t.Errorf("man without DIR: exit %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "usage: understudy man DIR") {
		t.Errorf("stderr = %q", stderr.String())
	}
}
