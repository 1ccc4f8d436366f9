// Command probescale measures the monitor's probe engine (monitor/probe) at
// scale on loopback: one engine probing 1,000 to 10,000 targets (ICMP to
// 127.0.0.0/8 addresses, TCP to loopback listeners, the instance state
// through an in-process hypervisor), at the intervals asked, and reports
// per point the CPU it uses (cores), its resident memory, the lateness of
// probes against their schedule (p50, p99, max) and the time from a
// service's death (its listener closed) to its fails threshold (the
// engine's ServiceDown event). bench/probescale.sh runs it and writes
// bench/results/probescale.{json,md}.
//
// Each point runs in a process of its own (`probescale -point`), whose TCP
// listeners live in a third process (`probescale -serve`), so the CPU and
// memory of a point are the engine's alone. Needs root (the raw ICMP socket).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	serve := flag.Int("serve", 0, "internal: listen on the TCP ports of `N` VMs and close them on request")
	point := flag.String("point", "", "internal: measure one `TARGETS@INTERVAL` point and print its JSON")
	points := flag.String("points", "1000@1s,1000@250ms,3000@1s,3000@250ms,10000@1s,10000@250ms", "the points to measure, `TARGETS@INTERVAL,...`")
	warmup := flag.Duration("warmup", 5*time.Second, "time before the measured window (after every target's first probe)")
	window := flag.Duration("window", 20*time.Second, "the measured window of each point")
	deaths := flag.Int("deaths", 20, "services killed after the window, for the time to their fails threshold")
	fails := flag.Int("fails", 3, "consecutive failures that make a target down (monitor.fails)")
	out := flag.String("out", "bench/results", "results `DIR`: probescale.json and probescale.md")
	profile := flag.String("cpuprofile", "", "with -point: write a CPU profile of the measured window to `FILE`")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch {
	case *serve > 0:
		err = runServe(ctx, *serve, os.Stdin, os.Stdout)
	case *point != "":
		err = runPoint(ctx, pointConfig{spec: *point, warmup: *warmup, window: *window, deaths: *deaths, fails: *fails, profile: *profile}, os.Stdout)
	default:
		err = runAll(ctx, *points, *out, os.Args[1:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "probescale:", err)
		stop()
		os.Exit(1)
	}
}
