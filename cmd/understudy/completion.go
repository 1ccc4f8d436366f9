package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

func init() {
	// Registered here, not in the table's literal: both commands read the
	// table, which would make its initialisation refer to itself.
	commands["completion"] = command{"print the shell completion script (bash, zsh, fish)", runCompletion}
	commands["man"] = command{"write the man pages into a directory", runMan}
}

// completionWriters are the shells `understudy completion` writes for.
var completionWriters = map[string]func(io.Writer, []cliCommand) error{
	"bash": writeBashCompletion,
	"zsh":  writeZshCompletion,
	"fish": writeFishCompletion,
}

// runCompletion prints the completion script of one shell:
// `understudy completion bash|zsh|fish`.
func runCompletion(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("completion", stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: understudy completion bash|zsh|fish")
		fmt.Fprintln(stderr, "Prints the shell's completion script for understudy, built from the commands' own flags.")
		fmt.Fprintln(stderr, "bash: source it, or install it as /usr/share/bash-completion/completions/understudy;")
		fmt.Fprintln(stderr, "zsh: install it as _understudy in a directory of $fpath;")
		fmt.Fprintln(stderr, "fish: install it as ~/.config/fish/completions/understudy.fish.")
	}
	if stop, err := parseFlags(fs, args); stop {
		return err
	}
	if fs.NArg() != 1 || completionWriters[fs.Arg(0)] == nil {
		fs.Usage()
		return withCode(2, errReported)
	}
	if err := completionWriters[fs.Arg(0)](stdout, describeCommands(ctx)); err != nil {
		return fmt.Errorf("write %s completion: %w", fs.Arg(0), err)
	}
	return nil
}

// errWriter remembers the first write error, so that a generator can
// write line after line and check once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

// commandNames lists the names of cmds.
func commandNames(cmds []cliCommand) []string {
	out := make([]string, len(cmds))
	for i, c := range cmds {
		out[i] = c.Name
	}
	return out
}

// subNames lists the names of subs.
func subNames(subs []cliSub) []string {
	out := make([]string, len(subs))
	for i, s := range subs {
		out[i] = s.Name
	}
	return out
}

// flagSpellings lists both spellings of every flag (Go's flag package takes
// -name and --name), the documented one first.
func flagSpellings(f cliFlag) []string {
	if len(f.Name) == 1 {
		return []string{"-" + f.Name, "--" + f.Name}
	}
	return []string{"--" + f.Name, "-" + f.Name}
}

// flagKeys are the completion's contexts: a command, or a subcommand that
// parses flags of its own ("certs init"), with the flags each parses.
type flagKey struct {
	key   string
	flags []cliFlag
}

func flagKeys(cmds []cliCommand) []flagKey {
	var out []flagKey
	for _, c := range cmds {
		out = append(out, flagKey{c.Name, c.Flags})
		for _, s := range c.Subs {
			if s.Own {
				out = append(out, flagKey{c.Name + " " + s.Name, s.Flags})
			}
		}
	}
	return out
}

// errNoCommands guards the generators against an empty table.
var errNoCommands = errors.New("no commands to describe")

// shellQuote quotes s for a POSIX shell (and fish) in single quotes.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
