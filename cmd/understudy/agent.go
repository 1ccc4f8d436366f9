package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/understudy/understudy/standby"
	agentconfig "github.com/understudy/understudy/standby/config"
)

// runAgent runs the standby agent: `understudy agent --config agent.yaml`.
// The start-up order follows incus-agent: logger, config, then standby.Run
// (state, runtime connection, CRIU probe, server, readiness); ctx ends on
// SIGINT/SIGTERM for a graceful shutdown, SIGHUP reloads the TLS files.
func runAgent(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	setOutput(fs, stderr)
	configPath := fs.String("config", "agent.yaml", "agent configuration `FILE`")
	newLogger := logFlags(fs, stderr)
	if stop, err := parseFlags(fs, args); stop {
		return err
	}
	if fs.NArg() != 0 {
		return withCode(2, fmt.Errorf("unexpected arguments %q", fs.Args()))
	}

	logger, err := newLogger()
	if err != nil {
		return withCode(2, err)
	}
	logger.Info("starting standby agent", "component", "agent", "version", version, "config", *configPath)

	cfg, err := agentconfig.Load(*configPath)
	if err != nil {
		return withCode(2, err)
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{}, 1)
	fwdCtx, stopFwd := context.WithCancel(ctx)
	defer stopFwd()
	go func() { // forwards SIGHUP until runAgent returns
		for {
			select {
			case <-fwdCtx.Done():
				return
			case <-hup:
				select {
				case reload <- struct{}{}:
				default:
				}
			}
		}
	}()

	err = standby.Run(ctx, cfg, standby.RunOptions{
		Logger:  logger,
		Version: version,
		Connect: standby.ConnectLXD,
		Reload:  reload,
	})
	if err != nil {
		return fmt.Errorf("standby agent: %w", err)
	}
	return nil
}
