// Command understudy is the one binary of understudy: the monitor, the standby
// agent, the proxy, the drill and the operator tools are its subcommands.
//
// This package only parses flags, wires packages together and maps errors to
// exit codes; logic worth testing lives in the feature packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand: its one-line summary and the function that runs it.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// holdsSecrets are the subcommands that keep a TSIG secret or a TLS private
// key in memory; they disable core dumps before they read any (nocore_*.go).
var holdsSecrets = map[string]bool{"monitor": true, "agent": true, "dns": true, "proxy": true, "drill": true}

// commands is the subcommand table. Each entry's run function lives in the
// file named after it.
var commands = map[string]command{
	"validate": {"check an inventory and report every error", runValidate},
	"dns":      {"read or compare-and-swap a DNS record (get, set)", runDNS},
	"agent":    {"run the standby agent inside the standby VM", runAgent},
	"certs":    {"create the CA and the mutual-TLS certificates (init, issue)", runCerts},
	"monitor":  {"run the monitor daemon: probes, incidents, failover", runMonitor},
	"status":   {"show where every service runs", runStatus},
	"proxy":    {"run the HTTP reverse proxy that holds requests during a failover", runProxy},
	"drill":    {"inject a real failure and measure the recovery", runDrill},
	"migrate":  {"move a service from the standby VM to a spare VM (--dry-run scores the spares)", runMigrate},
	"failback": {"move a service from the standby or a spare back to its primary", runFailback},
	"plan":     {"the coverage and cost report: what each hypervisor's or zone's loss leaves protected", runPlan},
	"playbook": {"show the embedded recovery playbooks", runPlaybook},
	"version":  {"print the version", runVersion},
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// exitError carries a specific exit code out of a subcommand.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// withCode marks err to end the process with code.
func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches to a subcommand and turns its error into an exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "understudy: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	if holdsSecrets[args[0]] {
		if err := disableCoreDumps(); err != nil {
			fmt.Fprintf(stderr, "understudy %s: %v\n", args[0], err)
			return 1
		}
	}
	err := cmd.run(ctx, args[1:], stdout, stderr)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintf(stderr, "understudy %s: %v\n", args[0], ee.err)
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "understudy %s: %v\n", args[0], err)
	return 1
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: understudy COMMAND [flags]")
	fmt.Fprintln(w)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'understudy COMMAND -h' for the flags of one command.")
}

func runVersion(_ context.Context, _ []string, stdout, _ io.Writer) error {
	fmt.Fprintf(stdout, "understudy %s\n", version)
	return nil
}
