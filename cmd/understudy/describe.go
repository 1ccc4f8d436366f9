package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"sort"
	"strings"
)

// The shell completion and the man pages are built from the commands' own
// flag definitions and help text, never from a copy: describeCommands runs
// every command of the table with -h, records the FlagSets the command
// passes to setOutput, and keeps the usage text it prints.

// setOutput sends the usage and errors of fs to stderr. When stderr is a
// *helpRecorder (describeCommands), fs is also recorded there.
func setOutput(fs *flag.FlagSet, stderr io.Writer) {
	fs.SetOutput(stderr)
	if r, ok := stderr.(*helpRecorder); ok {
		r.sets = append(r.sets, fs)
	}
}

// newFlagSet returns a FlagSet of the commands defined in this package's
// newer files, with setOutput applied.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	setOutput(fs, stderr)
	return fs
}

// helpRecorder is the stderr of a command run with -h: it keeps the usage
// text and the FlagSets the command created.
type helpRecorder struct {
	bytes.Buffer
	sets []*flag.FlagSet
}

// subcommand is a word after a command that selects what it does.
type subcommand struct {
	name string
	own  bool // it parses flags of its own, in a FlagSet named "COMMAND NAME"
}

// subcommands lists, per command, the words its dispatch reads after the
// command name (runCerts, runCompletion, runDNS, runDrill, runPlaybook).
// TestSubcommandsMatchUsage checks this table against the usage text.
var subcommands = map[string][]subcommand{
	"certs":      {{"init", true}, {"issue", true}},
	"completion": {{"bash", false}, {"zsh", false}, {"fish", false}},
	"dns":        {{"get", false}, {"set", false}},
	"drill":      {{"history", true}},
	"playbook":   {{"list", false}, {"show", false}},
}

// cliFlag is one flag as the completion and the man pages show it.
type cliFlag struct {
	Name    string
	Arg     string // the value's name from the usage (`FILE`), "" for a bool flag
	Usage   string
	Default string // "" when the default is the zero value
}

// Dashed returns the flag as the documentation writes it: -f, --name.
func (f cliFlag) Dashed() string {
	if len(f.Name) == 1 {
		return "-" + f.Name
	}
	return "--" + f.Name
}

// Kind tells what the value names: "file", "dir" or "" (anything else).
func (f cliFlag) Kind() string {
	switch a := strings.ToUpper(f.Arg); {
	case a == "DIR":
		return "dir"
	case strings.HasSuffix(a, "FILE"):
		return "file"
	}
	return ""
}

// cliSub is a subcommand with the flags it parses (its command's when it
// has none of its own).
type cliSub struct {
	Name  string
	Own   bool
	Usage string // its usage lines from the command's help
	Flags []cliFlag
}

// cliCommand is one command of the table as the completion and the man
// pages show it.
type cliCommand struct {
	Name, Summary string
	Help          string // the usage text the command prints for -h, without the flag list
	Flags         []cliFlag
	Subs          []cliSub
}

// describeCommands describes every command of the table, sorted by name.
// The commands run with -h under a cancelled context and write nothing but
// their usage, which is recorded.
func describeCommands(ctx context.Context) []cliCommand {
	ctx, cancel := context.WithCancel(ctx)
	cancel()
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]cliCommand, 0, len(names))
	for _, n := range names {
		help, flags := describeRun(ctx, n)
		c := cliCommand{Name: n, Summary: commands[n].summary, Help: help, Flags: flags}
		for _, s := range subcommands[n] {
			sub := cliSub{Name: s.name, Own: s.own, Usage: usageOf(help, n+" "+s.name), Flags: flags}
			if s.own {
				_, sub.Flags = describeRun(ctx, n, s.name)
			}
			c.Subs = append(c.Subs, sub)
		}
		out = append(out, c)
	}
	return out
}

// describeRun runs `understudy ARGS... -h` and returns its usage text
// without the flag list, and the flags of the last FlagSet it created.
func describeRun(ctx context.Context, args ...string) (string, []cliFlag) {
	rec := &helpRecorder{}
	_ = commands[args[0]].run(ctx, append(args[1:], "-h"), io.Discard, rec)
	text := rec.String()
	if len(rec.sets) == 0 {
		return strings.TrimSpace(text), nil
	}
	fs := rec.sets[len(rec.sets)-1]
	var defaults bytes.Buffer
	fs.SetOutput(&defaults)
	fs.PrintDefaults()
	if d := defaults.String(); d != "" {
		if i := strings.Index(text, d); i >= 0 {
			text = text[:i]
		}
	}
	return trimHelp(text, fs.Name()), flagsOf(fs)
}

// trimHelp drops what introduces the flag list: flag's default "Usage of
// NAME:" line and a last line ending in a colon ("flags:").
func trimHelp(text, name string) string {
	text = strings.Replace(text, "Usage of "+name+":\n", "", 1)
	text = strings.TrimRight(text, "\n")
	if i := strings.LastIndexByte(text, '\n'); strings.HasSuffix(text, ":") {
		text = text[:i+1]
	}
	return strings.TrimSpace(text)
}

// flagsOf lists the flags of fs in the order PrintDefaults shows them.
func flagsOf(fs *flag.FlagSet) []cliFlag {
	host, _ := os.Hostname()
	var out []cliFlag
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		c := cliFlag{Name: f.Name, Arg: arg, Usage: usage}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			c.Arg = "" // a back-quoted word in a bool flag's usage names no value
		}
		switch f.DefValue {
		case "", "0", "0s", "false":
		case host:
			c.Default = "the host name"
		default:
			c.Default = f.DefValue
		}
		out = append(out, c)
	})
	return out
}

// usageOf returns the lines of help that show `understudy PREFIX`, joined.
func usageOf(help, prefix string) string {
	var lines []string
	for _, l := range strings.Split(help, "\n") {
		l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "usage:"))
		if strings.HasPrefix(l, "understudy "+prefix+" ") || l == "understudy "+prefix {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "; ")
}
