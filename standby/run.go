package standby

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/understudy/understudy/internal/httpserve"
	"github.com/understudy/understudy/internal/icmp"
	"github.com/understudy/understudy/standby/config"
	"github.com/understudy/understudy/standby/criuprobe"
)

// stealInterval is how often the CPU steal percentage is sampled.
const stealInterval = 5 * time.Second

// RunOptions are what Run needs besides the configuration.
type RunOptions struct {
	Logger  *slog.Logger
	Version string
	// Connect opens the Incus/LXD connection (the lxd package in production).
	Connect func(ctx context.Context, c config.Incus) (Runtime, error)
	// Reload, when it receives, reloads the TLS files (SIGHUP).
	Reload <-chan struct{}
	// Serving, if set, is called with the listen address once the agent is ready.
	Serving func(addr net.Addr)
}

// Run is the agent's life, in the order of incus-agent's start-up: state,
// runtime connection, CRIU probe, HTTPS server, readiness (reconcile), and a
// graceful shutdown when ctx ends. It returns nil after a clean shutdown.
func Run(ctx context.Context, cfg config.Config, opts RunOptions) error {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	log := logger.With("component", "standby")

	st, err := openState(cfg.StateDir)
	if err != nil {
		return err
	}
	log.Info("state opened", "dir", cfg.StateDir, "epoch", st.epoch.Current())

	rt, err := opts.Connect(ctx, cfg.Incus)
	if err != nil {
		return fmt.Errorf("connect to incus/lxd: %w", err)
	}
	log.Info("runtime connected", "socket", cfg.Incus.Socket, "url", cfg.Incus.URL)

	criu := criuprobe.Status{Reason: "disabled in config"}
	if !cfg.CRIU.Disable {
		criu = criuprobe.Probe(ctx, cfg.CRIU.Path, time.Duration(cfg.CRIU.ProbeTimeout))
	}
	log.Info("criu probed", "restore", criu.String(), "version", criu.Version)

	tlsr, err := newCertReloader(cfg.TLS)
	if err != nil {
		return err
	}
	aopts := AgentOptions{Logger: logger, CRIU: criu, Version: opts.Version}
	if pinger, err := icmp.New(); err != nil {
		log.Warn("icmp probes unavailable (raw sockets need root or CAP_NET_RAW)", "err", err)
	} else {
		defer pinger.Close()
		aopts.Pinger = pinger
	}
	// newAgent tells a Checkpointer runtime whether stateful work is proven.
	agent := newAgent(ctx, cfg, st, rt, aopts)
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	// Timeouts and a connection cap (httpserve, shared with the monitor's API).
	srv := httpserve.New(agent.Handler(), httpserve.Limits{}, newServerErrorLog(logger))
	srv.TLSConfig = tlsr.serverConfig()
	capped := httpserve.Cap(ln, httpserve.Limits{}) // TLS goes above it (ServeTLS)
	var wg sync.WaitGroup
	defer wg.Wait()
	bg, stopBG := context.WithCancel(ctx)
	defer stopBG()
	serveErr := make(chan error, 1)
	wg.Go(func() { serveErr <- srv.ServeTLS(capped, "", "") })
	wg.Go(func() { agent.steal.Run(bg, stealInterval) })
	wg.Go(func() { agent.load.Run(bg, stealInterval) })
	wg.Go(func() { agent.shareLoop(bg) })
	wg.Go(func() { reloadLoop(bg, opts.Reload, tlsr, log) })
	log.Info("serving", "listen", ln.Addr().String())

	agent.Reconcile(ctx)
	if opts.Serving != nil {
		opts.Serving(ln.Addr())
	}

	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-serveErr:
		stopBG()
		return fmt.Errorf("serve: %w", err)
	}
	stopBG()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down server: %w", err)
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}

func reloadLoop(ctx context.Context, reload <-chan struct{}, r *certReloader, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-reload:
			if !ok {
				return
			}
			if err := r.Reload(); err != nil {
				log.Error("reload TLS files; keeping the previous ones", "err", err)
				continue
			}
			log.Info("TLS files reloaded")
		}
	}
}

// newServerErrorLog sends net/http's internal errors (such as refused TLS
// handshakes) to slog at debug level.
func newServerErrorLog(l *slog.Logger) *log.Logger {
	return slog.NewLogLogger(l.With("component", "standby-http").Handler(), slog.LevelDebug)
}
