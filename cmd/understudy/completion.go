package main

import (
	"context"
	"fmt"
	"io"

	"github.com/understudy/understudy/internal/clidoc"
)

func init() {
	// Registered here, not in the table's literal: both commands read the
	// table, which would make its initialisation refer to itself.
	commands["completion"] = command{"print the shell completion script (bash, zsh, fish)", runCompletion}
	commands["man"] = command{"write the man pages into a directory", runMan}
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
	write, ok := clidoc.CompletionWriter(fs.Arg(0))
	if fs.NArg() != 1 || !ok {
		fs.Usage()
		return withCode(2, errReported)
	}
	if err := write(stdout, describeCommands(ctx)); err != nil {
		return fmt.Errorf("write %s completion: %w", fs.Arg(0), err)
	}
	return nil
}
