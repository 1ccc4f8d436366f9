package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Results is bench/results/probescale.json.
type Results struct {
	Name     string  `json:"name"`
	Command  string  `json:"command"`
	Started  string  `json:"started"`
	Finished string  `json:"finished"`
	NProc    int     `json:"nproc"`
	Go       string  `json:"go"`
	Load     string  `json:"loadavg_start"`
	LoadEnd  string  `json:"loadavg_end"`
	Goal     string  `json:"goal"`
	Points   []Point `json:"points"`
}

// runAll measures every point, each in a process of its own, and writes
// the results.
func runAll(ctx context.Context, specs, out string, args []string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this program: %w", err)
	}
	r := Results{
		Name: "probescale", Command: "bash bench/probescale.sh " + strings.Join(args, " "),
		Started: time.Now().UTC().Format(time.RFC3339), NProc: runtime.NumCPU(), Go: runtime.Version(), Load: loadavg(),
		Goal: "10,000 targets at 1 s, or 1,000 at 250 ms, using at most 1 core, p99 lateness under 25 ms",
	}
	pass := passThrough(args)
	for _, spec := range strings.Split(specs, ",") {
		if _, _, err := parseSpec(spec); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "probescale: %s ...\n", spec)
		cmd := exec.CommandContext(ctx, self, append([]string{"-point", spec}, pass...)...)
		cmd.Stderr = os.Stderr
		var b bytes.Buffer
		cmd.Stdout = &b
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("point %s: %w", spec, err)
		}
		var p Point
		if err := json.Unmarshal(b.Bytes(), &p); err != nil {
			return fmt.Errorf("point %s: %w: %s", spec, err, b.String())
		}
		fmt.Fprintf(os.Stderr, "probescale: %s: %.2f cores, %.0f MiB, lateness p50 %.2f p99 %.2f max %.1f ms, down after %.0f ms (p50)\n",
			spec, p.CPUCores, p.RSSMiB, p.LateP50, p.LateP99, p.LateMax, p.DeathP50MS)
		r.Points = append(r.Points, p)
	}
	r.Finished, r.LoadEnd = time.Now().UTC().Format(time.RFC3339), loadavg()
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "probescale.json"), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("write the results: %w", err)
	}
	if err := os.WriteFile(filepath.Join(out, "probescale.md"), []byte(markdown(r)), 0o644); err != nil {
		return fmt.Errorf("write the results: %w", err)
	}
	return nil
}

// passThrough keeps the flags a point needs from the command line.
func passThrough(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name := strings.TrimLeft(strings.SplitN(a, "=", 2)[0], "-")
		switch name {
		case "warmup", "window", "deaths", "fails":
			out = append(out, a)
			if !strings.Contains(a, "=") && i+1 < len(args) {
				i++
				out = append(out, args[i])
			}
		}
	}
	return out
}

// load1 is the 1-minute load average of a /proc/loadavg triple.
func load1(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// markdown is the table the READMEs cite.
func markdown(r Results) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# probescale: the probe engine at scale on loopback\n\n")
	fmt.Fprintf(&b, "`%s`, %s to %s, nproc %d, %s, load average %s at the start, %s at the end.\n\n", r.Command, r.Started, r.Finished, r.NProc, r.Go, r.Load, r.LoadEnd)
	fmt.Fprintf(&b, "One engine (monitor/probe) per point, in its own process; per VM one ICMP echo to its 127.1.x.y address, one instance state (an in-process hypervisor) and one TCP connect to a listener in another process; plus the hypervisor's target. Timeout interval/2. Lateness: a probe's start after its schedule (one interval after the previous start of the target). Death: a listener closed, until the engine's ServiceDown event (confirm: none). Goal: %s.\n\n", r.Goal)
	fmt.Fprintln(&b, "| targets | interval | probes/s (asked) | CPU cores | CPU µs/probe | RSS MiB | lateness p50 ms | p99 ms | max ms | failed probes | ICMP drops | false downs | death → down p50 ms (min–max, n) | load avg (1 min) start–end | goal |")
	fmt.Fprintln(&b, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, p := range r.Points {
		goal := "missed"
		if p.CPUCores <= 1 && p.LateP99 < 25 && p.FalseDowns == 0 {
			goal = "met"
		}
		fmt.Fprintf(&b, "| %d | %d ms | %.0f (%.0f) | %.2f | %.0f | %.0f | %.2f | %.2f | %.1f | %d | %d | %d | %.0f (%.0f–%.0f, %d/%d) | %s–%s | %s |\n",
			p.Targets, p.IntervalMS, float64(p.Probes)/p.WindowS, p.Expected/p.WindowS, p.CPUCores, p.CPUPerProbeUS, p.RSSMiB, p.LateP50, p.LateP99, p.LateMax,
			p.FailedProbes, p.ICMPDrops, p.FalseDowns, p.DeathP50MS, p.DeathMinMS, p.DeathMaxMS, p.Detected, p.Deaths, load1(p.LoadStart), load1(p.LoadEnd), goal)
	}
	fmt.Fprintf(&b, "\nA point counts as met at most 1 core, p99 lateness under 25 ms and no false down. The machine is shared (%d cores): a load average above the core count means other processes took CPU from the engine, and lateness then measures the machine more than the engine; CPU µs per probe is the figure least sensitive to it.\n", r.NProc)
	fmt.Fprintf(&b, "\nThe fails threshold is %d: a death is seen after the first failed probe plus %d more intervals, at most %d intervals plus a timeout.\n", r.Points[0].Fails, r.Points[0].Fails-1, r.Points[0].Fails)
	return b.String()
}
