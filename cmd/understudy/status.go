package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/understudy/understudy/internal/monitorapi"
	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor/api"
)

// runStatus prints where every service runs, from the monitor's /v1/status:
// `understudy status -f inventory.yaml [--json]`.
func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	setOutput(fs, stderr)
	file := fs.String("f", "", "inventory `FILE`: the monitor is asked at monitor.listen")
	url := fs.String("url", "", "monitor base `URL` (instead of monitor.listen of -f)")
	asJSON := fs.Bool("json", false, "print the monitor's JSON answer")
	tf := addAPITLSFlags(fs)
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the monitor")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: understudy status -f FILE [--json] | --url http(s)://HOST:PORT [--tls-ca F --tls-cert F --tls-key F] [--json]")
		fmt.Fprintln(stderr, "Shows every service's state, location, address, since when, and its last recovery.")
		fs.PrintDefaults()
	}
	if stop, err := parseFlags(fs, args); stop {
		return err
	}
	if (*file == "") == (*url == "") || fs.NArg() > 0 {
		fs.Usage()
		return withCode(2, errReported)
	}
	var inv *inventory.Inventory
	if *file != "" {
		var err error
		if inv, err = loadInventory(*file, stderr); err != nil {
			return err
		}
	}
	cl, err := monitorAPI(*url, inv, tf)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	body, err := cl.StatusJSON(ctx)
	if err != nil {
		return withCode(1, err)
	}
	if *asJSON {
		var out bytes.Buffer
		if err := json.Indent(&out, body, "", "  "); err != nil {
			return withCode(1, fmt.Errorf("monitor answered invalid JSON: %w", err))
		}
		out.WriteByte('\n')
		_, err := stdout.Write(out.Bytes())
		return err
	}
	var st api.Status
	if err := json.Unmarshal(body, &st); err != nil {
		return withCode(1, fmt.Errorf("decode the monitor's status: %w", err))
	}
	return monitorapi.PrintStatus(stdout, st, time.Now())
}
