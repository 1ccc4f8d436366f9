package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/understudy/understudy/drill"
	"github.com/understudy/understudy/drill/launch"
	"github.com/understudy/understudy/drill/report"
	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/standby"
)

// hostDrillArgs are the flags of `understudy drill --hypervisor`.
type hostDrillArgs struct {
	inv             *inventory.Inventory
	hypervisor      string
	services        []string
	kind            drill.Kind
	via             drill.Via
	load            int
	restore, yes    bool
	timeout, wait   time.Duration
	proxy, monitor  string
	tf              apiTLSFlags
	jsonOut, svgOut string
	history         string
	logger          *slog.Logger
}

// runHostDrill drills a whole hypervisor: one host-down of its bridge,
// load on each of its services, a report over all of them.
func runHostDrill(ctx context.Context, a hostDrillArgs, stdout, stderr io.Writer) error {
	if a.kind != drill.HostDown {
		return withCode(2, fmt.Errorf("--hypervisor drills the whole host: want --inject host-down, not %s", a.kind))
	}
	hc, err := launch.HostConfigFor(a.inv, a.hypervisor, a.services, a.kind, a.via, a.load)
	if err != nil {
		return withCode(2, err)
	}
	for i := range hc.Services {
		c := &hc.Services[i]
		c.Restore, c.Yes, c.Timeout = a.restore, a.yes, a.timeout
		if a.proxy != "" {
			c.ProxyAddr = a.proxy
		}
	}
	mon, err := monitorAPI(a.monitor, a.inv, a.tf)
	if err != nil {
		return err
	}
	deps, closeDeps, err := drillDeps(ctx, a.inv, hc.Services[0], a.kind, mon, a.logger)
	if err != nil {
		return withCode(1, err)
	}
	defer closeDeps()
	agents, closeAgents, err := standbyAgents(a.inv, hc)
	if err != nil {
		return withCode(1, err)
	}
	defer closeAgents()
	deps.Agent = agents

	res, runErr := runHostWaiting(ctx, hc, deps, a.wait, a.logger)
	if errors.Is(runErr, drill.ErrPreflight) || errors.Is(runErr, drill.ErrNotConfirmed) || errors.Is(runErr, drill.ErrLabOnly) {
		return withCode(exitRefused, runErr)
	}
	if res == nil {
		return withCode(1, runErr)
	}
	if err := report.WriteHostOutputs(stdout, res, a.jsonOut, a.svgOut); err != nil {
		return withCode(1, err)
	}
	if a.history != "none" {
		path := a.history
		if path == "" {
			path = report.HistoryPath(a.inv.Monitor.StateDir)
		}
		if err := report.AppendHostHistory(path, res); err != nil {
			fmt.Fprintf(stderr, "understudy drill: the history %s: %v\n", path, err)
		}
	}
	if runErr != nil {
		return withCode(1, runErr)
	}
	if res.Verdict != drill.Recovered {
		return withCode(exitNotRecovered, fmt.Errorf("%d of %d services of %s did not recover from %s", res.Total-res.Recovered, res.Total, res.Hypervisor, res.Inject))
	}
	return nil
}

// runHostWaiting runs the host drill, retrying a refused preflight for up
// to wait, as launch.RunWaiting does for one service.
func runHostWaiting(ctx context.Context, hc drill.HostConfig, deps drill.Deps, wait time.Duration, logger *slog.Logger) (*drill.HostResult, error) {
	return launch.RetryPreflight(ctx, wait, logger, func() (*drill.HostResult, error) { return drill.RunHost(ctx, hc, deps) })
}

// standbyAgents is a drill.Agent ready when the agent of every standby
// VM the host drill's services use is.
func standbyAgents(inv *inventory.Inventory, hc drill.HostConfig) (drill.Agent, func(), error) {
	t := inv.Monitor.AgentTLS
	tlsCfg, err := standby.ClientTLSConfig(t.CA, t.Cert, t.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("monitor.agent-tls: %w", err)
	}
	var all allReady
	seen := map[string]bool{}
	for _, c := range hc.Services {
		sb := inv.StandbyVM(inv.Service(c.Service).Standby)
		if sb == nil || seen[sb.Name] {
			continue
		}
		seen[sb.Name] = true
		all = append(all, agentReady{standby.NewClient(sb.Agent, tlsCfg)})
	}
	return all, func() {
		for _, a := range all {
			a.c.Close()
		}
	}, nil
}

// allReady is ready when each of its agents is.
type allReady []agentReady

func (all allReady) Ready(ctx context.Context) error {
	var errs []error
	for _, a := range all {
		errs = append(errs, a.Ready(ctx))
	}
	return errors.Join(errs...)
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
