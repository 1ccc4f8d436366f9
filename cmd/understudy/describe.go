package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"sort"

	"github.com/understudy/understudy/internal/clidoc"
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

// describeCommands describes every command of the table, sorted by name.
// The commands run with -h under a cancelled context and write nothing but
// their usage, which is recorded.
func describeCommands(ctx context.Context) []clidoc.Command {
	ctx, cancel := context.WithCancel(ctx)
	cancel()
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]clidoc.Command, 0, len(names))
	for _, n := range names {
		help, flags := describeRun(ctx, n)
		c := clidoc.Command{Name: n, Summary: commands[n].summary, Help: help, Flags: flags}
		for _, s := range subcommands[n] {
			sub := clidoc.Sub{Name: s.name, Own: s.own, Usage: clidoc.UsageOf(help, n+" "+s.name), Flags: flags}
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
func describeRun(ctx context.Context, args ...string) (string, []clidoc.Flag) {
	rec := &helpRecorder{}
	_ = commands[args[0]].run(ctx, append(args[1:], "-h"), io.Discard, rec)
	if len(rec.sets) == 0 {
		return clidoc.FromFlagSet(rec.String(), nil)
	}
	return clidoc.FromFlagSet(rec.String(), rec.sets[len(rec.sets)-1])
}
