package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/understudy/understudy/playbooks"
	"github.com/understudy/understudy/recover"
)

// moves are the built-in playbooks of migrations and failbacks, which
// recover builds in Go (they are not configurable); show prints them in the
// playbook format.
var moves = map[string]func() *playbooks.Playbook{
	"migrate":  recover.DefaultMigratePlaybook,
	"failback": recover.DefaultFailbackPlaybook,
}

// runPlaybook implements `understudy playbook list` and
// `understudy playbook show NAME|FILE`: show prints an embedded default as
// its YAML source, or parses a playbook file (reporting every error with its
// position) and prints it back when it is valid.
func runPlaybook(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("playbook", flag.ContinueOnError)
	setOutput(fs, stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: understudy playbook list")
		fmt.Fprintln(stderr, "       understudy playbook show NAME|FILE")
		fmt.Fprintf(stderr, "\nembedded defaults: %s; built in: migrate, failback\n", strings.Join(playbooks.Names(), ", "))
	}
	if stop, err := parseFlags(fs, args); stop {
		return err
	}
	rest := fs.Args()
	switch {
	case len(rest) == 1 && rest[0] == "list":
		for _, n := range playbooks.Names() {
			fmt.Fprintln(stdout, n)
		}
		fmt.Fprintln(stdout, "migrate (built in)")
		fmt.Fprintln(stdout, "failback (built in)")
		return nil
	case len(rest) == 2 && rest[0] == "show":
		return showPlaybook(rest[1], stdout)
	}
	fs.Usage()
	return withCode(2, errors.New(""))
}

// showPlaybook prints the default named name, or the file at name after
// checking it.
func showPlaybook(name string, stdout io.Writer) error {
	if src, err := playbooks.Source(name); err == nil {
		_, err = stdout.Write(src)
		return err
	}
	if build, ok := moves[name]; ok {
		fmt.Fprintf(stdout, "# Built-in playbook %q (recover.Default%sPlaybook); not configurable.\n", name, strings.ToUpper(name[:1])+name[1:])
		return playbooks.Write(stdout, build())
	}
	src, err := os.ReadFile(name)
	if err != nil {
		return fmt.Errorf("show playbook %q: not an embedded default (%s) and not a readable file: %w",
			name, strings.Join(playbooks.Names(), ", "), err)
	}
	if _, err := playbooks.Parse(name, src); err != nil {
		return withCode(1, err)
	}
	_, err = stdout.Write(src)
	return err
}
