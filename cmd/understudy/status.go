package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/understudy/understudy/internal/monitorapi"
	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor/api"
)

// runStatus prints where every service runs, from the monitor's /v1/status:
// `understudy status -f inventory.yaml [--json]`.
func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
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
	body, err := fetchStatus(ctx, cl)
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
	return printStatus(stdout, st, time.Now())
}

// fetchStatus GETs /v1/status and returns the JSON answer.
func fetchStatus(ctx context.Context, cl *monitorapi.Client) ([]byte, error) {
	var body json.RawMessage
	if err := cl.Get(ctx, "/v1/status", &body); err != nil {
		return nil, err
	}
	return body, nil
}

// printStatus writes the table: one line per service, its last recovery
// with the time between phases.
func printStatus(w io.Writer, st api.Status, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(st.Monitors) > 0 {
		fmt.Fprintln(tw, "MONITOR\tROLE\tADDRESS\tLEADS SINCE\tEPOCH")
		for _, m := range st.Monitors {
			role, epoch := "follower", "-"
			if m.Leader {
				role, epoch = "leader", fmt.Sprint(m.Epoch)
			}
			if m.Name == st.Monitor {
				role += " (answered)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.Name, role, orDash(m.Address), since(m.Since, now), epoch)
		}
		fmt.Fprintln(tw)
	}
	if len(st.VMs) > 0 {
		fmt.Fprintln(tw, "VM\tKIND\tSTEAL\tLOAD/CPU\tSAMPLED\tSTATE")
		for _, v := range st.VMs {
			steal, load, state := fmt.Sprintf("%.1f%%", v.Steal), fmt.Sprintf("%.2f", v.LoadPerCPU), "ok"
			if v.Unknown != "" {
				steal, load, state = "?", "?", v.Unknown
			}
			if v.Overloaded {
				state = "OVERLOADED: " + v.Why
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", v.Name, v.Kind, steal, load, since(v.SampledAt, now), state)
		}
		fmt.Fprintln(tw)
	}
	if st.Error != "" {
		fmt.Fprintf(tw, "error: %s\n\n", st.Error)
	}
	fmt.Fprintln(tw, "SERVICE\tSTATE\tLOCATION\tADDRESS\tSINCE\tLAST RECOVERY")
	for _, s := range st.Services {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Service, s.State, location(s), orDash(s.Address), since(s.Since, now), lastRecovery(s.LastIncident))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range st.Services { // a standby that could not be prepared, before it is needed
		if !s.Standby.Prepared && s.Standby.Error != "" {
			fmt.Fprintf(w, "%s (standby %s): %s\n", s.Service, s.Standby.Name, s.Standby.Error)
		}
	}
	return nil
}

func location(s api.ServiceStatus) string {
	if s.Host == "" {
		return orDash(s.Where)
	}
	return s.Where + "/" + s.Host
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// since is an age, rounded for reading ("3m12s ago").
func since(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Hour:
		return d.Round(time.Second).String() + " ago"
	default:
		return t.Local().Format("2006-01-02 15:04")
	}
}

// lastRecovery is "912ms (confirmed +3, fenced +10, ...) recovered", or the
// open incident's progress.
func lastRecovery(inc *api.IncidentStatus) string {
	if inc == nil {
		return "-"
	}
	var parts []string
	for _, p := range inc.Phases[min(1, len(inc.Phases)):] {
		parts = append(parts, fmt.Sprintf("%s +%g", p.Phase, p.SinceMS))
	}
	out := fmt.Sprintf("%gms", inc.TotalMS)
	if len(parts) > 0 {
		out += " (" + strings.Join(parts, ", ") + ")"
	}
	switch {
	case inc.Stuck != "":
		out += " STUCK: " + inc.Stuck
	case inc.Open:
		out += " in progress"
	case inc.Result != "":
		out += " " + inc.Result
	}
	return out
}
