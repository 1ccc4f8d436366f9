package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/understudy/understudy/drill/report"
	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/monitor/capacity/coverage"
)

// exitUnprotected is plan's exit code when --fail-above finds a service
// some domain's loss would leave unprotected, or --fail-rpo a copy older
// than its max-rpo (1 stays "could not plan").
const exitUnprotected = 3

// runPlan prints the coverage and cost report of an inventory:
// `understudy plan -f inventory.yaml [--pairs] [--json] [--monitor URL] [--fail-above P] [--fail-rpo]`.
func runPlan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	setOutput(fs, stderr)
	file := fs.String("f", "", "inventory `FILE` (required)")
	pairs := fs.Bool("pairs", false, "also each pair of hypervisors lost at once")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	history := fs.String("history", "", "drill history `FILE` the expected times come from (default monitor.state-dir/drills.jsonl; none: no drills)")
	monitorURL := fs.String("monitor", "", "monitor base `URL` to take what runs on each standby now from (default: the inventory's capacity, warm containers counted as running)")
	failAbove := fs.Int("fail-above", 0, "exit 3 when some domain's loss leaves a service with priority above `PRIORITY` unprotected (0: never)")
	failRPO := fs.Bool("fail-rpo", false, "exit 3 when some service's standby copy is older than its sync.max-rpo (needs --monitor)")
	tf := addAPITLSFlags(fs)
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the monitor (with --monitor)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: understudy plan -f FILE [--pairs] [--json] [--history FILE] [--monitor URL] [--fail-above PRIORITY] [--fail-rpo]")
		fmt.Fprintln(stderr, "For each hypervisor, zone (and pair) lost: which services the standby VMs recover, in which order, how fast, which are left unprotected and why; how old each synced service's copy is (with --monitor); and the standby VMs and cost of each standby scheme.")
		fs.PrintDefaults()
	}
	if stop, err := parseFlags(fs, args); stop {
		return err
	}
	if *file == "" || fs.NArg() > 0 || *failAbove < 0 || (*failRPO && *monitorURL == "") {
		fs.Usage()
		return withCode(2, errReported)
	}
	inv, err := loadInventory(*file, stderr)
	if err != nil {
		return err
	}
	in := coverage.Input{Name: *file, Inventory: inv, Pairs: *pairs}
	if *history != "none" {
		p := *history
		if p == "" {
			p = report.HistoryPath(inv.Monitor.StateDir)
		}
		if in.Drills, err = report.ReadHistory(p); err != nil {
			return withCode(1, err)
		}
	}
	if *monitorURL != "" {
		cl, err := monitorAPI(*monitorURL, inv, tf)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		var st api.Status
		if err := cl.Get(ctx, "/v1/status", &st); err != nil {
			return withCode(1, fmt.Errorf("read the monitor's status: %w", err))
		}
		in.Live, in.LiveSource, in.Copies = placements(st), *monitorURL, copies(st)
	}
	r := coverage.Compute(in)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(r)
	} else {
		err = coverage.WriteText(stdout, r)
	}
	if err != nil {
		return withCode(1, err)
	}
	var fails []string
	if *failAbove > 0 {
		if lost := r.UnprotectedAbove(*failAbove); len(lost) > 0 {
			fails = append(fails, fmt.Sprintf("%d services above priority %d would be unprotected:\n  %s", len(lost), *failAbove, strings.Join(lost, "\n  ")))
		}
	}
	if *failRPO {
		if old := r.RPOExceeded(); len(old) > 0 {
			fails = append(fails, fmt.Sprintf("%d services' standby copies are older than their max-rpo:\n  %s", len(old), strings.Join(old, "\n  ")))
		}
	}
	if len(fails) > 0 {
		return withCode(exitUnprotected, errors.New(strings.Join(fails, "\n")))
	}
	return nil
}

// copies is each synced service's standby copy as the monitor's status
// reports it.
func copies(st api.Status) map[string]coverage.CopyLive {
	out := map[string]coverage.CopyLive{}
	for _, s := range st.Services {
		if y := s.Sync; y != nil {
			out[s.Service] = coverage.CopyLive{Age: time.Duration(y.AgeMS * float64(time.Millisecond)), Good: !y.LastGood.IsZero(),
				Exceeded: y.Exceeded, LastError: y.LastError, Blocked: y.Blocked}
		}
	}
	return out
}

// placements is where the monitor's status says each service runs.
func placements(st api.Status) map[string]coverage.Placement {
	out := make(map[string]coverage.Placement, len(st.Services))
	for _, s := range st.Services {
		out[s.Service] = coverage.Placement{Where: s.Where, Host: s.Host, Prepared: s.Standby.Prepared}
	}
	return out
}
