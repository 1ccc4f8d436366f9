package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/understudy/understudy/internal/pki"
)

// runCerts creates the CA (`certs init DIR`) and issues server and client
// certificates signed by it (`certs issue`).
func runCerts(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		certsUsage(stderr)
		return withCode(2, errors.New(""))
	}
	switch args[0] {
	case "init":
		return runCertsInit(args[1:], stdout, stderr)
	case "issue":
		return runCertsIssue(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		certsUsage(stderr)
		return nil
	default:
		certsUsage(stderr)
		return withCode(2, fmt.Errorf("unknown certs command %q", args[0]))
	}
}

func certsUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: understudy certs init [--force] DIR")
	fmt.Fprintln(w, "       understudy certs issue --ca DIR --name NAME (--server --host H1,H2 [--client] | --client) [--out DIR] [--days N] [--force]")
}

func runCertsInit(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("certs init", flag.ContinueOnError)
	setOutput(fs, stderr)
	force := fs.Bool("force", false, "overwrite an existing CA")
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return withCode(2, err)
	}
	if len(rest) != 1 {
		certsUsage(stderr)
		return withCode(2, errors.New("certs init needs exactly one DIR"))
	}
	if err := pki.InitWith(rest[0], pki.Options{Force: *force}); err != nil {
		return fmt.Errorf("create CA: %w", err)
	}
	fmt.Fprintf(stdout, "CA written: %s, %s\n", filepath.Join(rest[0], pki.CACertFile), filepath.Join(rest[0], pki.CAKeyFile))
	return nil
}

func runCertsIssue(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("certs issue", flag.ContinueOnError)
	setOutput(fs, stderr)
	caDir := fs.String("ca", "", "the CA's `DIR` (ca.crt, ca.key)")
	name := fs.String("name", "", "certificate name: common name and file base name")
	server := fs.Bool("server", false, "issue a server certificate (needs --host); with --client it serves as both (a monitor's API certificate)")
	client := fs.Bool("client", false, "issue a client certificate")
	hosts := fs.String("host", "", "comma-separated DNS names and IP addresses for a server certificate")
	out := fs.String("out", "", "output `DIR` (default: the CA directory)")
	days := fs.Int("days", 365, "validity in days")
	force := fs.Bool("force", false, "overwrite existing files")
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return withCode(2, err)
	}
	switch {
	case len(rest) != 0:
		return withCode(2, fmt.Errorf("unexpected arguments %q", rest))
	case *caDir == "" || *name == "":
		certsUsage(stderr)
		return withCode(2, errors.New("--ca and --name are required"))
	case !*server && !*client:
		return withCode(2, errors.New("give --server, --client, or both"))
	case *server && *hosts == "":
		return withCode(2, errors.New("--server needs --host"))
	case !*server && *hosts != "":
		return withCode(2, errors.New("--host only applies to --server"))
	case *days <= 0:
		return withCode(2, errors.New("--days must be positive"))
	}
	if *out == "" {
		*out = *caDir
	}
	var hostList []string
	for h := range strings.SplitSeq(*hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hostList = append(hostList, h)
		}
	}
	req := pki.IssueRequest{Name: *name, Server: *server, AlsoClient: *server && *client, Hosts: hostList, Validity: time.Duration(*days) * 24 * time.Hour}
	certPath, keyPath, err := pki.IssueWith(*caDir, *out, req, pki.Options{Force: *force})
	if err != nil {
		return fmt.Errorf("issue certificate %q: %w", *name, err)
	}
	fmt.Fprintf(stdout, "certificate written: %s, %s\n", certPath, keyPath)
	return nil
}

// parseInterspersed parses flags that may appear before or after positional
// arguments and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return rest, nil
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
