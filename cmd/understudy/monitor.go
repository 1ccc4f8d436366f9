package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/understudy/understudy/drill/report"
	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor"
	"github.com/understudy/understudy/monitor/statuspage/drillsource"
)

// runMonitor runs the monitor daemon: `understudy monitor -f inventory.yaml`.
// SIGINT/SIGTERM stop it; SIGHUP reloads the inventory, which is loaded and
// validated completely first and applied only when valid (otherwise the
// errors are logged and the running inventory stays).
func runMonitor(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := flag.NewFlagSet("monitor", flag.ContinueOnError)
	setOutput(fs, stderr)
	file := fs.String("f", "", "inventory `FILE` (required)")
	ha := haFlags(fs)
	newLogger := logFlags(fs, stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: understudy monitor -f FILE [--name NAME] [--listen ADDR] [--advertise ADDR] [--peers NAME=URL,...] [--log-level LEVEL] [--log-format text|json]")
		fmt.Fprintln(stderr, "Runs the monitor daemon: probes, incidents, failover, and the HTTP API on monitor.listen.")
		fmt.Fprintln(stderr, "Monitors sharing one etcd (monitor.etcd, or --peers) elect one leader that acts; the others probe,")
		fmt.Fprintln(stderr, "serve reads and forward the rest to it. --peers needs 3 members or more: 3 tolerate the loss of one.")
		fs.PrintDefaults()
	}
	logger, inv, err := startDaemon(fs, args, file, newLogger, stderr)
	if inv == nil {
		return err
	}
	opts, err := ha.options(inv)
	if err != nil {
		return withCode(2, err)
	}
	opts.Logger = logger
	opts.Drills = drillsource.History{Path: report.HistoryPath(inv.Monitor.StateDir)}
	ctrl, err := monitor.New(inv, opts)
	if err != nil {
		return withCode(1, err)
	}
	ctrl.MustRegister(report.NewMonitorHistoryCollector(ctrl))
	logger.Info("starting monitor", "component", "monitor-cmd", "version", version, "inventory", *file)

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- ctrl.Run(runCtx) }()
	for {
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("monitor: %w", err)
			}
			return nil
		case <-hup:
			reload(ctrl, *file, logger)
		}
	}
}

// reload applies a new inventory only when it loads and validates completely.
func reload(ctrl *monitor.Controller, file string, logger *slog.Logger) {
	log := logger.With("component", "monitor-cmd", "inventory", file)
	inv, err := inventory.Load(file)
	if err != nil {
		log.Error("reload refused: the inventory is invalid; the running one stays", "err", err)
		return
	}
	if err := ctrl.Reload(inv); err != nil {
		log.Error("reload refused", "err", err)
		return
	}
	log.Info("inventory reloaded", "summary", inv.Summary())
}

// loadInventory loads and validates an inventory, printing every error.
func loadInventory(file string, stderr io.Writer) (*inventory.Inventory, error) {
	inv, err := inventory.Load(file)
	var errs inventory.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Fprintln(stderr, e)
		}
		return nil, withCode(1, errReported)
	}
	if err != nil {
		return nil, withCode(1, err)
	}
	return inv, nil
}
