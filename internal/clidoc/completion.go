package clidoc

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrNoCommands is returned by the generators for an empty command list.
var ErrNoCommands = errors.New("no commands to describe")

// completions are the shells CompletionWriter knows.
var completions = map[string]func(io.Writer, []Command) error{
	"bash": WriteBash,
	"zsh":  WriteZsh,
	"fish": WriteFish,
}

// CompletionWriter returns the generator of shell's completion script
// (bash, zsh or fish), and false for any other shell.
func CompletionWriter(shell string) (func(io.Writer, []Command) error, bool) {
	w, ok := completions[shell]
	return w, ok
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
func commandNames(cmds []Command) []string {
	out := make([]string, len(cmds))
	for i, c := range cmds {
		out[i] = c.Name
	}
	return out
}

// subNames lists the names of subs.
func subNames(subs []Sub) []string {
	out := make([]string, len(subs))
	for i, s := range subs {
		out[i] = s.Name
	}
	return out
}

// flagSpellings lists both spellings of every flag (Go's flag package takes
// -name and --name), the documented one first.
func flagSpellings(f Flag) []string {
	if len(f.Name) == 1 {
		return []string{"-" + f.Name, "--" + f.Name}
	}
	return []string{"--" + f.Name, "-" + f.Name}
}

// flagKey is one of the completion's contexts: a command, or a subcommand
// that parses flags of its own ("certs init"), with the flags it parses.
type flagKey struct {
	key   string
	flags []Flag
}

// flagKeys lists the contexts of cmds.
func flagKeys(cmds []Command) []flagKey {
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

// ShellQuote quotes s for a POSIX shell (and fish) in single quotes.
func ShellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
