package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/understudy/understudy/dnsupdate"
	"github.com/understudy/understudy/drill"
	"github.com/understudy/understudy/drill/launch"
	"github.com/understudy/understudy/drill/report"
	"github.com/understudy/understudy/internal/monitorapi"
	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/lxd"
	"github.com/understudy/understudy/standby"
)

// Exit codes of `understudy drill` besides 0 (recovered) and 2 (usage).
const (
	exitNotRecovered = 1 // the drill ran and the service did not recover (or it failed)
	exitRefused      = 3 // the preflight or the safety check refused to start
)

// runDrill injects a failure and measures the recovery:
// `understudy drill -f inv.yaml --service NAME --inject KIND [...]`, or shows
// the history: `understudy drill history -f inv.yaml`.
func runDrill(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "history" {
		return runDrillHistory(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("drill", flag.ContinueOnError)
	setOutput(fs, stderr)
	file := fs.String("f", "", "inventory `FILE` (required)")
	service := fs.String("service", "", "the service to drill (required, unless --hypervisor)")
	hypervisor := fs.String("hypervisor", "", "drill the whole hypervisor `NAME`: every service whose primary runs there (with --inject host-down)")
	services := fs.String("services", "", "with --hypervisor: only these services (`a,b,c`)")
	inject := fs.String("inject", "", "the fault: vm-stop, vm-freeze, blackhole, host-down or service-stop (required)")
	load := fs.Int("load", 10, "concurrent clients per path (per path and service with --hypervisor, default 2 there)")
	via := fs.String("via", "dns", "client paths: dns, proxy or both")
	jsonOut := fs.String("json", "", "write the result as JSON to `FILE` (- for stdout)")
	svgOut := fs.String("svg", "", "write the timeline chart to `FILE`")
	restore := fs.Bool("restore", false, "return the service to its primary afterwards")
	marker := fs.Bool("marker", false, "write a marker file into the primary's web root before the injection, wait for its sync, and report whether the standby served it and from how old a copy (services[].sync)")
	markerPath := fs.String("marker-path", "", "the marker's `PATH` inside the primary (default: understudy-drill-marker.txt in the service's first sync path; asked over HTTP without its /var/www prefix)")
	yes := fs.Bool("yes", false, "confirm a drill on an inventory that is not `lab: true`")
	timeout := fs.Duration("timeout", 60*time.Second, "longest wait for the recovery after the injection")
	monitorBase := fs.String("monitor", "", "monitor base `URL` (default monitor.listen, https with monitor.api-tls)")
	tf := addAPITLSFlags(fs)
	proxyAddr := fs.String("proxy", "", "proxy `HOST:PORT` (default proxy.listen)")
	history := fs.String("history", "", "history `FILE` (default monitor.state-dir/drills.jsonl; none to skip)")
	wait := fs.Duration("wait", 0, "retry a refused preflight for up to this long (for scripts that just started the daemons)")
	level := fs.String("log-level", "info", "log level of the progress lines on stderr")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: understudy drill -f FILE --service NAME --inject KIND [--load N] [--via dns|proxy|both]")
		fmt.Fprintln(stderr, "                        [--json FILE] [--svg FILE] [--restore] [--yes]")
		fmt.Fprintln(stderr, "       understudy drill -f FILE --hypervisor NAME --inject host-down [--services a,b,c] [...]")
		fmt.Fprintln(stderr, "       understudy drill history -f FILE [--service NAME]")
		fmt.Fprintln(stderr, "Injects a real failure, measures the recovery from the outside and reports every phase.")
		fmt.Fprintln(stderr, "Exit 0 recovered, 1 not recovered or failed, 2 usage, 3 refused by the preflight.")
		fs.PrintDefaults()
	}
	if stop, err := parseFlags(fs, args); stop {
		return err
	}
	if *file == "" || (*service == "") == (*hypervisor == "") || *inject == "" || fs.NArg() > 0 ||
		(*services != "" && *hypervisor == "") {
		fs.Usage()
		return withCode(2, errReported)
	}
	kind, err := drill.ParseKind(*inject)
	if err != nil {
		return withCode(2, err)
	}
	v, err := drill.ParseVia(*via)
	if err != nil {
		return withCode(2, err)
	}
	logger, err := agentLogger(stderr, *level, "text")
	if err != nil {
		return withCode(2, err)
	}
	inv, err := loadInventory(*file, stderr)
	if err != nil {
		return err
	}
	if err := drill.CheckSafety(kind, inv.Lab, *yes); err != nil {
		return withCode(exitRefused, err)
	}
	if *hypervisor != "" {
		if !flagSet(fs, "load") {
			*load = 2
		}
		return runHostDrill(ctx, hostDrillArgs{inv: inv, hypervisor: *hypervisor, services: splitList(*services),
			kind: kind, via: v, load: *load, restore: *restore, yes: *yes, timeout: *timeout,
			proxy: *proxyAddr, monitor: *monitorBase, tf: tf, jsonOut: *jsonOut, svgOut: *svgOut,
			history: *history, wait: *wait, logger: logger}, stdout, stderr)
	}
	cfg, err := launch.ConfigFor(inv, *service, kind, v, *load)
	if err != nil {
		return withCode(2, err)
	}
	cfg.Restore, cfg.Yes, cfg.Timeout = *restore, *yes, *timeout
	if *marker {
		cfg.Marker = cmp.Or(*markerPath, drill.MarkerPathFor(inv.Service(*service)))
	}
	if *proxyAddr != "" {
		cfg.ProxyAddr = *proxyAddr
	}
	mon, err := monitorAPI(*monitorBase, inv, tf)
	if err != nil {
		return err
	}
	deps, closeDeps, err := drillDeps(ctx, inv, cfg, kind, mon, logger)
	if err != nil {
		return withCode(1, err)
	}
	defer closeDeps()

	res, runErr := launch.RunWaiting(ctx, cfg, deps, *wait, logger)
	if errors.Is(runErr, drill.ErrPreflight) || errors.Is(runErr, drill.ErrNotConfirmed) || errors.Is(runErr, drill.ErrLabOnly) {
		return withCode(exitRefused, runErr)
	}
	if res == nil {
		return withCode(1, runErr)
	}
	if err := report.WriteOutputs(stdout, res, *jsonOut, *svgOut); err != nil {
		return withCode(1, err)
	}
	if *history != "none" {
		path := *history
		if path == "" {
			path = report.HistoryPath(inv.Monitor.StateDir)
		}
		recordDrill(path, res, stderr)
	}
	if runErr != nil {
		return withCode(1, runErr)
	}
	if res.Verdict != drill.Recovered {
		return withCode(exitNotRecovered, fmt.Errorf("%s did not recover from %s", res.Service, res.Inject))
	}
	return nil
}

// drillDeps connects to the primary's hypervisor, DNS, the standby agent
// and the monitor.
func drillDeps(ctx context.Context, inv *inventory.Inventory, cfg drill.Config, kind drill.Kind, mon *monitorapi.Client, logger *slog.Logger) (drill.Deps, func(), error) {
	svc := inv.Service(cfg.Service)
	vm := inv.VM(svc.VM)
	hv := inv.Hypervisor(vm.Hypervisor)
	sb := inv.StandbyVM(svc.Standby)
	if hv == nil || sb == nil {
		return drill.Deps{}, nil, fmt.Errorf("service %q: hypervisor or standby missing from the inventory", cfg.Service)
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	lx, err := lxd.Connect(cctx, lxd.Conn{Name: hv.Name, Socket: hv.Incus.Socket, URL: hv.Incus.URL,
		ClientCert: hv.Incus.ClientCert, ClientKey: hv.Incus.ClientKey, ServerCert: hv.Incus.ServerCert})
	if err != nil {
		return drill.Deps{}, nil, fmt.Errorf("connect to hypervisor %q: %w", hv.Name, err)
	}
	// Clients ask the authoritative server without a key, like any resolver.
	dns, err := dnsupdate.New(dnsupdate.Config{Server: inv.DNS.Server, Zone: inv.DNS.Zone, Timeout: time.Second, Retries: -1})
	if err != nil {
		lx.Close()
		return drill.Deps{}, nil, fmt.Errorf("dns: %w", err)
	}
	t := inv.Monitor.AgentTLS
	tlsCfg, err := standby.ClientTLSConfig(t.CA, t.Cert, t.Key)
	if err != nil {
		lx.Close()
		return drill.Deps{}, nil, fmt.Errorf("monitor.agent-tls: %w", err)
	}
	agent := standby.NewClient(sb.Agent, tlsCfg)
	// Commands on this machine (iptables, ip) only in a lab: there vm-freeze
	// also drops the instance's traffic, as a paused VM answers nothing.
	var run drill.Runner
	if inv.Lab {
		run = drill.ExecRunner{}
	}
	fault, err := drill.NewFault(kind, cfg.Primary, lx, run)
	if err != nil {
		lx.Close()
		agent.Close()
		return drill.Deps{}, nil, err
	}
	deps := drill.Deps{
		Monitor: &drill.HTTPMonitor{Base: mon.Base(), Client: &http.Client{Transport: mon.HTTP().Transport, Timeout: 10 * time.Second}}, Agent: agentReady{agent}, DNS: dnsResolver{dns},
		Fault: fault, Hypervisor: lx, Marker: drill.LXDMarker{C: lx}, Log: logger,
	}
	return deps, func() { lx.Close(); agent.Close() }, nil
}

// agentReady adapts the standby client to drill.Agent.
type agentReady struct{ c *standby.Client }

func (a agentReady) Ready(ctx context.Context) error {
	h, err := a.c.Health(ctx)
	if err != nil {
		return err
	}
	if !h.Ready {
		return fmt.Errorf("agent %q answers but is not ready", h.Name)
	}
	return nil
}

// dnsResolver adapts the dnsupdate client to drill.Resolver.
type dnsResolver struct{ c *dnsupdate.Client }

func (r dnsResolver) Lookup(ctx context.Context, name string) ([]netip.Addr, error) {
	a, err := r.c.Lookup(ctx, name)
	return a.Addrs, err
}

// runDrillHistory shows the drills of the history with their trend.
func runDrillHistory(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("drill history", flag.ContinueOnError)
	setOutput(fs, stderr)
	file := fs.String("f", "", "inventory `FILE`: the history is under monitor.state-dir")
	path := fs.String("file", "", "history `FILE` (instead of -f)")
	service := fs.String("service", "", "only this service")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: understudy drill history -f FILE [--service NAME] | --file drills.jsonl")
		fmt.Fprintln(stderr, "Shows every recorded drill and flags a recovery slower than 1.5 × the median of the last five.")
		fs.PrintDefaults()
	}
	if stop, err := parseFlags(fs, args); stop {
		return err
	}
	if (*file == "") == (*path == "") || fs.NArg() > 0 {
		fs.Usage()
		return withCode(2, errReported)
	}
	p := *path
	if p == "" {
		inv, err := loadInventory(*file, stderr)
		if err != nil {
			return err
		}
		p = report.HistoryPath(inv.Monitor.StateDir)
	}
	h, err := report.ReadHistory(p)
	if err != nil {
		return withCode(1, err)
	}
	if *service != "" {
		h = report.OfService(h, *service)
	}
	return report.WriteTrend(stdout, report.Trend(h))
}

// recordDrill appends res to the history at path and says on stderr what
// is missing when it could not: the drill, or only its chart.
func recordDrill(path string, res *drill.Result, stderr io.Writer) {
	err := report.AppendHistory(path, res)
	switch {
	case errors.Is(err, report.ErrChartNotSaved):
		fmt.Fprintf(stderr, "understudy drill: recorded in the history %s, but its chart was not saved: %v\n", path, err)
	case err != nil:
		fmt.Fprintf(stderr, "understudy drill: not recorded in the history: %v\n", err)
	}
}
