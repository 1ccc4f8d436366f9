package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"time"

	"github.com/understudy/understudy/dnsupdate"
	"github.com/understudy/understudy/inventory"
)

const dnsUsage = `usage:
  understudy dns get NAME [flags]
  understudy dns set NAME ADDR[,ADDR...] [--expect ADDR[,ADDR...]] [--ttl 10s] [flags]

get asks the zone's primary directly for the A and AAAA records of NAME.
set replaces them in one signed RFC 2136 update; with --expect it is a
compare-and-swap that changes nothing unless NAME holds exactly those addresses.
NAME is relative to the zone ("web") or fully qualified ("web.lab.test.").

Server, zone and key come from -f inventory.yaml (dns: section) or the flags;
flags win. Exit status: 0 done, 3 precondition failed (record unchanged),
1 any other error, 2 usage.

flags:
`

// dnsOptions are the flags shared by dns get and dns set.
type dnsOptions struct {
	file, server, zone, keyFile string
	timeout, ttl, wait          time.Duration
	expect                      string
	verbose                     bool
}

// runDNS implements `understudy dns get|set`.
func runDNS(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o dnsOptions
	fs := flag.NewFlagSet("dns", flag.ContinueOnError)
	setOutput(fs, stderr)
	fs.Usage = func() { fmt.Fprint(stderr, dnsUsage); fs.PrintDefaults() }
	fs.StringVar(&o.file, "f", "", "inventory `file` to take the dns: settings from")
	fs.StringVar(&o.server, "server", "", "authoritative primary, `host:port` (default: dns.server)")
	fs.StringVar(&o.zone, "zone", "", "`zone` name (default: dns.zone)")
	fs.StringVar(&o.keyFile, "key-file", "", "BIND TSIG key `file` (default: dns.tsig-key-file)")
	fs.DurationVar(&o.timeout, "timeout", 0, "timeout per attempt (default: dns.timeout, or 2s)")
	fs.DurationVar(&o.ttl, "ttl", 0, "set: TTL of the new records, whole seconds (default: dns.ttl, or 10s)")
	fs.DurationVar(&o.wait, "wait", dnsupdate.DefaultVerifyTimeout, "set: how long to wait for the dns.verify secondaries to serve the change")
	fs.StringVar(&o.expect, "expect", "", "set: `addresses` NAME must hold now, comma-separated (compare-and-swap)")
	fs.BoolVar(&o.verbose, "v", false, "log each attempt to stderr")
	pos, err := dnsParseArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return withCode(2, errors.New("")) // flag has printed the problem and the usage
	}
	switch {
	case len(pos) == 2 && pos[0] == "get":
		return dnsGet(ctx, o, pos[1], stdout, stderr)
	case len(pos) == 3 && pos[0] == "set":
		return dnsSet(ctx, o, pos[1], pos[2], stdout, stderr)
	}
	fs.Usage()
	return withCode(2, errors.New("expected `get NAME` or `set NAME ADDR[,ADDR]`"))
}

// dnsParseArgs parses flags placed before, between or after the
// positional arguments and returns the positional ones.
func dnsParseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func dnsGet(ctx context.Context, o dnsOptions, name string, stdout, stderr io.Writer) error {
	c, _, err := o.client(stderr, false)
	if err != nil {
		return err
	}
	fqdn, err := c.Qualify(name)
	if err != nil {
		return withCode(2, err)
	}
	ans, err := c.Lookup(ctx, fqdn)
	if err != nil {
		return err
	}
	if len(ans.Addrs) == 0 {
		fmt.Fprintf(stderr, "%s has no A or AAAA records at %s\n", fqdn, c.Server())
		return nil
	}
	return dnsupdate.WriteRecords(stdout, fqdn, ans)
}

func dnsSet(ctx context.Context, o dnsOptions, name, list string, stdout, stderr io.Writer) error {
	addrs, err := dnsupdate.ParseAddrs(list)
	if err != nil {
		return withCode(2, err)
	}
	var expect []netip.Addr
	if o.expect != "" {
		if expect, err = dnsupdate.ParseAddrs(o.expect); err != nil {
			return withCode(2, fmt.Errorf("--expect: %w", err))
		}
	}
	c, s, err := o.client(stderr, true)
	if err != nil {
		return err
	}
	fqdn, err := c.Qualify(name)
	if err != nil {
		return withCode(2, err)
	}
	if s.ttl%time.Second != 0 || s.ttl < 0 {
		return withCode(2, fmt.Errorf("--ttl %v: give a whole, non-negative number of seconds", s.ttl))
	}
	err = c.Replace(ctx, fqdn, addrs, s.ttl, expect)
	if errors.Is(err, dnsupdate.ErrPrecondition) {
		return withCode(3, err)
	}
	if err != nil {
		return err
	}
	how := "replaced"
	if len(expect) > 0 {
		how = "swapped from " + dnsupdate.JoinAddrs(expect)
	}
	fmt.Fprintf(stdout, "%s %s TTL %v at %s (%s)\n", fqdn, dnsupdate.JoinAddrs(addrs), s.ttl, c.Server(), how)
	if len(s.verify) == 0 {
		return nil
	}
	vctx, cancel := context.WithTimeout(ctx, o.wait)
	defer cancel()
	results, err := c.Verify(vctx, fqdn, addrs, s.verify)
	dnsupdate.WriteVerified(stdout, results)
	if err != nil {
		return fmt.Errorf("the primary holds the new addresses, but %w", err)
	}
	return nil
}

// dnsSettings are the values set needs besides the client.
type dnsSettings struct {
	ttl    time.Duration
	verify []string
}

// client builds the dnsupdate client from the inventory and the flags.
func (o dnsOptions) client(stderr io.Writer, needKey bool) (*dnsupdate.Client, dnsSettings, error) {
	cfg := dnsupdate.Config{Server: o.server, Zone: o.zone, Timeout: o.timeout}
	s := dnsSettings{ttl: o.ttl}
	keyFile := o.keyFile
	if o.file != "" {
		inv, err := inventory.Load(o.file)
		if err != nil {
			return nil, s, dnsInventoryError(o.file, err)
		}
		cfg.Server = dnsOr(cfg.Server, inv.DNS.Server)
		cfg.Zone = dnsOr(cfg.Zone, inv.DNS.Zone)
		keyFile = dnsOr(keyFile, inv.DNS.TSIGKeyFile)
		cfg.Timeout = dnsOr(cfg.Timeout, inv.DNS.Timeout)
		s.ttl = dnsOr(s.ttl, inv.DNS.TTL)
		s.verify = inv.DNS.Verify
	}
	s.ttl = dnsOr(s.ttl, 10*time.Second)
	if cfg.Server == "" || cfg.Zone == "" {
		return nil, s, withCode(2, errors.New("no DNS server or zone: give -f inventory.yaml, or --server and --zone"))
	}
	if keyFile == "" && needKey {
		return nil, s, withCode(2, errors.New("no TSIG key: give --key-file, or dns.tsig-key-file in the inventory"))
	}
	if keyFile != "" {
		k, err := dnsupdate.LoadKeyFile(keyFile)
		if err != nil {
			return nil, s, err
		}
		cfg.Key = k
	}
	if o.verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	c, err := dnsupdate.New(cfg)
	if err != nil {
		return nil, s, withCode(2, err)
	}
	return c, s, nil
}

// dnsInventoryError keeps a multi-error inventory to one line on stderr.
func dnsInventoryError(file string, err error) error {
	var errs inventory.Errors
	if errors.As(err, &errs) && len(errs) > 1 {
		return fmt.Errorf("%v (and %d more errors; run `understudy validate -f %s`)", errs[0], len(errs)-1, file)
	}
	return err
}

// dnsOr returns a unless it is the zero value, else b.
func dnsOr[T comparable](a, b T) T {
	var zero T
	if a != zero {
		return a
	}
	return b
}
