package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/understudy/understudy/internal/icmp"
	"github.com/understudy/understudy/proxy"
)

// runProxy runs the reverse proxy: `understudy proxy -f inventory.yaml`.
// It serves proxy.listen (or --listen), follows the placements of the
// monitor at proxy.monitor (or --monitor), and stops on SIGINT/SIGTERM.
func runProxy(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	setOutput(fs, stderr)
	file := fs.String("f", "", "inventory `FILE` (required)")
	listen := fs.String("listen", "", "`host:port` to serve (default: proxy.listen)")
	monitorURL := fs.String("monitor", "", "monitor base `URL`s, comma-separated with several monitors (default: proxy.monitor)")
	metrics := fs.String("metrics", "", "`host:port` serving /metrics; empty: none")
	tf := addAPITLSFlags(fs)
	noProbe := fs.Bool("no-probe", false, "do not probe backends with ICMP (no root needed; only failed connections are noticed)")
	maxConns := fs.Int("max-conns", proxy.DefaultMaxConns, "most client `connections` served at once; past it new ones wait unaccepted")
	idle := fs.Duration("idle-timeout", proxy.DefaultIdleTimeout, "close a client keep-alive connection idle this `long`")
	bodyTimeout := fs.Duration("body-timeout", proxy.DefaultBodyTimeout, "cut a request (408) whose client sends none of its body for this `long`")
	newLogger := logFlags(fs, stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: understudy proxy -f FILE [--listen ADDR] [--monitor URL[,URL...]] [--tls-ca F --tls-cert F --tls-key F] [--metrics ADDR] [--no-probe] [--max-conns N] [--idle-timeout D] [--body-timeout D]")
		fmt.Fprintln(stderr, "Runs the HTTP reverse proxy that routes by Host and holds requests during a failover.")
		fs.PrintDefaults()
	}
	logger, inv, err := startDaemon(fs, args, file, newLogger, stderr)
	if inv == nil {
		return err
	}
	addr := proxyFlagOr(*listen, inv.Proxy.Listen)
	if addr == "" {
		return withCode(2, errors.New("no address to serve: set proxy.listen in the inventory or --listen"))
	}
	urls := inv.Proxy.Monitors
	if *monitorURL != "" {
		urls = strings.Split(*monitorURL, ",")
	}
	hc, err := tf.httpClient(inv)
	if err != nil {
		return err
	}
	mon, err := monitorClients(urls, hc)
	if err != nil {
		return withCode(2, err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if files, err := tf.files(inv); err == nil && files.Cert != "" {
		reg.MustRegister(proxy.CertExpiryCollector(files.Cert))
	}
	opts := proxy.Options{Monitor: mon, Logger: logger, Registerer: reg}
	if !*noProbe {
		pinger, err := icmp.New()
		if err != nil {
			return withCode(1, fmt.Errorf("%w (run as root, or pass --no-probe)", err))
		}
		defer pinger.Close()
		opts.Pinger = pinger
	}
	cfg := proxy.FromInventory(inv)
	cfg.BodyTimeout = *bodyTimeout
	p, err := proxy.New(cfg, opts)
	if err != nil {
		return withCode(1, err)
	}
	limits := proxy.ServerLimits{IdleTimeout: *idle, MaxConns: *maxConns}
	front := p.Server(limits)
	front.Addr = addr
	servers := []*http.Server{front}
	if *metrics != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		servers = append(servers, &http.Server{Addr: *metrics, Handler: mux,
			ReadHeaderTimeout: 10 * time.Second, IdleTimeout: proxy.DefaultIdleTimeout})
	}
	logger.Info("starting proxy", "component", "proxy-cmd", "version", version, "listen", addr,
		"monitors", urls, "metrics", *metrics, "probe", !*noProbe, "max_conns", *maxConns)
	return serveProxy(ctx, p, servers, limits, logger)
}

// serveProxy listens on every server's address (the first, the proxy's
// port, capped by limits), runs p until ctx ends, then shuts the servers
// down and waits for everything it started.
func serveProxy(ctx context.Context, p *proxy.Proxy, servers []*http.Server, limits proxy.ServerLimits, logger *slog.Logger) error {
	lns := make([]net.Listener, 0, len(servers))
	for _, s := range servers {
		ln, err := net.Listen("tcp", s.Addr)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return withCode(1, fmt.Errorf("listen on %s: %w", s.Addr, err))
		}
		lns = append(lns, ln)
	}
	lns[0] = proxy.Listener(lns[0], limits)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, len(servers))
	for i, s := range servers {
		wg.Go(func() {
			if err := s.Serve(lns[i]); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs <- fmt.Errorf("serve %s: %w", s.Addr, err)
				cancel()
			}
		})
	}
	wg.Go(func() { _ = p.Run(ctx) })
	<-ctx.Done()
	logger.Info("stopping proxy", "component", "proxy-cmd")
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	for _, s := range servers {
		_ = s.Shutdown(sctx)
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// monitorClients is the proxy's Monitor over the monitors at urls, reached
// with hc (which carries the client certificate with monitor.api-tls).
func monitorClients(urls []string, hc *http.Client) (proxy.Monitor, error) {
	clients := make([]proxy.Monitor, 0, len(urls))
	for _, u := range urls {
		c, err := proxy.NewMonitorClient(strings.TrimSpace(u), hc)
		if err != nil {
			return nil, err
		}
		clients = append(clients, c)
	}
	return proxy.NewMonitors(clients...)
}

// proxyFlagOr returns the first of ss that is not empty.
func proxyFlagOr(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
