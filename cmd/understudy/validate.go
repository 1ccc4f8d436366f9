package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/understudy/understudy/inventory"
)

// errReported ends a command with a failure exit code after it has already
// printed what went wrong (main prints nothing more for an empty message).
var errReported = errors.New("")

// runValidate checks an inventory: every error is printed on stderr, one per
// line as FILE:LINE:COL: field.path: message, and the exit code is 1; a valid
// inventory prints a one-line summary on stdout (nothing with -q) and exits 0;
// its warnings go to stderr as FILE:LINE:COL: warning: field.path: message.
func runValidate(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	setOutput(fs, stderr)
	file := fs.String("f", "", "inventory `FILE` to check (required)")
	quiet := fs.Bool("q", false, "print nothing when the inventory is valid")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: understudy validate -f FILE [-q]")
		fmt.Fprintln(stderr, "Checks an inventory and reports every error as FILE:LINE:COL: field.path: message.")
		fs.PrintDefaults()
	}
	if stop, err := parseFlags(fs, args); stop {
		return err
	}
	if *file == "" || fs.NArg() > 0 {
		fs.Usage()
		return withCode(2, errReported)
	}
	inv, err := inventory.Load(*file)
	var errs inventory.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Fprintln(stderr, e)
		}
		return withCode(1, errReported)
	}
	if err != nil {
		return withCode(1, err)
	}
	for _, w := range inv.Warnings() {
		fmt.Fprintf(stderr, "%s:%d:%d: warning: %s: %s\n", w.File, w.Line, w.Col, w.Path, w.Msg)
	}
	if !*quiet {
		fmt.Fprintf(stdout, "%s: ok: %s\n", *file, inv.Summary())
	}
	return nil
}
