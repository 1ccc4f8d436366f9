package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/understudy/understudy/internal/clidoc"
)

// runMan writes the man pages: `understudy man DIR` writes understudy.1 and
// one understudy-COMMAND.1 per command, from the commands' own help.
func runMan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("man", stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: understudy man DIR")
		fmt.Fprintln(stderr, "Writes the man pages understudy.1 and understudy-COMMAND.1 into DIR, built from the commands' own help.")
	}
	if stop, err := parseFlags(fs, args); stop {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return withCode(2, errReported)
	}
	dir := fs.Arg(0)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create man directory: %w", err)
	}
	n, err := clidoc.WriteManPages(dir, version, describeCommands(ctx))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d man pages written to %s\n", n, dir)
	return nil
}
