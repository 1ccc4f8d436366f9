package main

import (
	"bytes"
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/understudy/understudy/internal/clidoc"
)

// describedCommand returns the description of command name.
func describedCommand(t *testing.T, name string) clidoc.Command {
	t.Helper()
	for _, c := range describeCommands(context.Background()) {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("command %q not described", name)
	return clidoc.Command{}
}

func flagNamed(flags []clidoc.Flag, name string) (clidoc.Flag, bool) {
	i := slices.IndexFunc(flags, func(f clidoc.Flag) bool { return f.Name == name })
	if i < 0 {
		return clidoc.Flag{}, false
	}
	return flags[i], true
}

// TestDescribeReadsTheCommandsOwnFlags checks that the description is the
// FlagSet each command parses: every flag its -h lists, with its value name,
// kind and default.
func TestDescribeReadsTheCommandsOwnFlags(t *testing.T) {
	cmds := describeCommands(context.Background())
	if len(cmds) != len(commands) {
		t.Fatalf("described %d commands, the table has %d", len(cmds), len(commands))
	}
	for _, c := range cmds {
		var stderr bytes.Buffer
		_ = commands[c.Name].run(context.Background(), []string{"-h"}, &bytes.Buffer{}, &stderr)
		for _, f := range c.Flags {
			if !strings.Contains(stderr.String(), "  -"+f.Name) {
				t.Errorf("%s: flag -%s is not in its -h output", c.Name, f.Name)
			}
		}
	}
	validate := describedCommand(t, "validate")
	f, ok := flagNamed(validate.Flags, "f")
	if !ok || f.Arg != "FILE" || f.Kind() != "file" || f.Dashed() != "-f" {
		t.Errorf("validate -f = %+v (found %v), want a FILE", f, ok)
	}
	if q, _ := flagNamed(validate.Flags, "q"); q.Arg != "" {
		t.Errorf("validate -q is a bool flag, got value name %q", q.Arg)
	}
	if !strings.HasPrefix(validate.Help, "usage: understudy validate -f FILE") {
		t.Errorf("validate help = %q", validate.Help)
	}
	if strings.Contains(validate.Help, "-q\t") || strings.Contains(validate.Help, "print nothing") {
		t.Errorf("validate help keeps the flag list: %q", validate.Help)
	}

	certs := describedCommand(t, "certs")
	if len(certs.Subs) != 2 || !certs.Subs[1].Own {
		t.Fatalf("certs subs = %+v", certs.Subs)
	}
	ca, ok := flagNamed(certs.Subs[1].Flags, "ca")
	if !ok || ca.Kind() != "dir" || ca.Dashed() != "--ca" {
		t.Errorf("certs issue --ca = %+v (found %v), want a DIR", ca, ok)
	}
	if days, _ := flagNamed(certs.Subs[1].Flags, "days"); days.Default != "365" {
		t.Errorf("certs issue --days default = %q, want 365", days.Default)
	}

	dns := describedCommand(t, "dns")
	if dns.Subs[0].Own || len(dns.Subs[0].Flags) != len(dns.Flags) {
		t.Errorf("dns get parses the dns flags, got %+v", dns.Subs[0])
	}
	if name, _ := flagNamed(describedCommand(t, "monitor").Flags, "name"); name.Default != "the host name" {
		t.Errorf("monitor --name default = %q: the build host's name must not reach the pages", name.Default)
	}
	if yes, _ := flagNamed(describedCommand(t, "drill").Flags, "yes"); yes.Arg != "" {
		t.Errorf("drill --yes is a bool flag, got value name %q", yes.Arg)
	}
}

// TestSubcommandsMatchUsage checks the subcommands table against the usage
// text: every `understudy CMD WORD` a command shows is listed, and every
// listed subcommand is shown.
func TestSubcommandsMatchUsage(t *testing.T) {
	word := regexp.MustCompile(`understudy ([a-z]+) ([a-z]+(?:\|[a-z]+)*)\b`)
	for _, c := range describeCommands(context.Background()) {
		shown := map[string]bool{}
		for _, m := range word.FindAllStringSubmatch(c.Help, -1) {
			if m[1] == c.Name {
				for _, w := range strings.Split(m[2], "|") {
					shown[w] = true
				}
			}
		}
		listed := map[string]bool{}
		for _, s := range subcommands[c.Name] {
			listed[s.name] = true
			if !shown[s.name] {
				t.Errorf("%s: subcommand %q is listed but its usage does not show it", c.Name, s.name)
			}
		}
		for w := range shown {
			if !listed[w] {
				t.Errorf("%s: usage shows `understudy %s %s`, missing from subcommands", c.Name, c.Name, w)
			}
		}
	}
	for _, s := range describedCommand(t, "drill").Subs {
		if s.Name == "history" && !strings.Contains(s.Usage, "understudy drill history -f FILE") {
			t.Errorf("drill history usage = %q", s.Usage)
		}
	}
}
