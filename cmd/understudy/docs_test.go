package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/understudy/understudy/internal/clidoc"
)

// docCommands returns every `understudy ...` command line in the fenced
// code blocks (continuation lines joined, ExecStart= lines too) and the
// code spans of a Markdown file.
func docCommands(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	inBlock := false
	pending := ""
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "```") {
			inBlock = !inBlock
			continue
		}
		if !inBlock {
			out = append(out, inlineCommands(line)...)
			continue
		}
		line = strings.TrimSpace(line)
		if pending != "" {
			line = pending + " " + line
			pending = ""
		}
		if strings.HasSuffix(line, `\`) {
			pending = strings.TrimSuffix(line, `\`)
			continue
		}
		line = strings.TrimPrefix(line, "ExecStart=/usr/bin/")
		if c, _, _ := strings.Cut(line, "#"); strings.HasPrefix(c, "understudy ") {
			out = append(out, strings.TrimSpace(c))
		}
	}
	return out
}

// inlineCommands returns the `understudy ...` code spans of a prose line,
// except those whose command is a placeholder (`understudy COMMAND -h`).
func inlineCommands(line string) []string {
	var out []string
	parts := strings.Split(line, "`")
	for i := 1; i < len(parts); i += 2 {
		words := strings.Fields(parts[i])
		if len(words) > 1 && words[0] == "understudy" && strings.ToUpper(words[1]) != words[1] {
			out = append(out, parts[i])
		}
	}
	return out
}

// TestOperationsCommands checks every command docs/operations.md shows:
// the command and subcommand exist, and every flag is one the command's
// FlagSet defines.
func TestOperationsCommands(t *testing.T) {
	cmds := map[string]clidoc.Command{}
	for _, c := range describeCommands(context.Background()) {
		cmds[c.Name] = c
	}
	lines := docCommands(t, "../../docs/operations.md")
	if len(lines) < 20 {
		t.Fatalf("found %d commands in docs/operations.md: %q", len(lines), lines)
	}
	for _, line := range lines {
		words := strings.Fields(line)[1:]
		c, ok := cmds[words[0]]
		if !ok {
			t.Errorf("%q: no command %q", line, words[0])
			continue
		}
		flags := c.Flags
		var positional []string
		for _, w := range words[1:] {
			if !strings.HasPrefix(w, "-") {
				positional = append(positional, w)
			}
		}
		if len(c.Subs) > 0 && len(c.Flags) == 0 && len(positional) == 0 {
			t.Errorf("%q: %s needs a subcommand", line, c.Name)
		}
		if len(positional) > 0 {
			for _, s := range c.Subs {
				if s.Name == positional[0] {
					flags = s.Flags
				}
			}
			if len(c.Subs) > 0 && len(c.Flags) == 0 && !containsSub(c.Subs, positional[0]) {
				t.Errorf("%q: %s has no subcommand %q", line, c.Name, positional[0])
			}
		}
		for _, w := range words[1:] {
			if !strings.HasPrefix(w, "-") {
				continue
			}
			name, _, _ := strings.Cut(strings.TrimLeft(w, "-"), "=")
			if _, ok := flagNamed(flags, name); !ok {
				t.Errorf("%q: %s has no flag %s", line, c.Name, w)
			}
		}
	}
}

func containsSub(subs []clidoc.Sub, name string) bool {
	for _, s := range subs {
		if s.Name == name {
			return true
		}
	}
	return false
}
