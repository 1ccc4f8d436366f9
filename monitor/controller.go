package monitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/understudy/understudy/dnsupdate"
	"github.com/understudy/understudy/ha"
	"github.com/understudy/understudy/internal/httpserve"
	"github.com/understudy/understudy/internal/icmp"
	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor/probe"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/executor"
	"github.com/understudy/understudy/recover/store"
)

// Controller is the monitor daemon. Create it with New and call Run once.
type Controller struct {
	opts    Options
	log     *slog.Logger
	reg     *prometheus.Registry
	metrics *metrics
	conns   *conns
	dns     *swappableDNS

	mu        sync.RWMutex
	cur       *plan
	confirmed map[string]time.Time // service -> when the monitor's agent confirmed it down
	suspects  map[string]time.Time // service -> last suspect report passed on
	findings  *findings            // failures no leader took yet (findings.go)
	apiToken  string               // probe.api-token-file's token (auth.go)

	// Leadership (term.go, forward.go); guarded by mu.
	term        *term         // while this monitor leads
	last        *term         // the last term, also once it ended
	leader      ha.Leader     // who leads, as last observed
	roleChanged chan struct{} // closed and replaced when term or leader change

	// Set by Run before it serves.
	name      string      // this monitor's name among its peers
	elector   *ha.Elector // nil with Options.Store
	store     store.Store // the shared store, for reads
	etcdStore *store.Etcd // the same, unguarded, for the terms' guarded stores
	addr      net.Addr
	peers     peerAPI       // how to call another monitor's API (apitls.go)
	mtls      bool          // probe.api-tls: every API connection has a verified client certificate
	monitorCN string        // the common name of the monitors' certificate (api-tls.cert)
	monReload chan struct{} // asks the monitor supervisor to restart
	pinger    probe.Pinger
	mig       executor.Migrator
	etcd      *clientv3.Client // nil with Options.Store
	peer      *ha.Peer         // this monitor's etcd member, with --peers
	spareCap  *spareCapacity   // the spares' last capacity samples (sparecap.go)
	vms       *vmViews         // the standbys' last capacity samples (vmstatus.go)

	recoverMetrics *executor.Metrics
	ready          chan struct{} // closed once Run serves
}

// New checks inv and returns a controller for it. It does no network I/O:
// agents, hypervisors and the store are reached by Run.
func New(inv *inventory.Inventory, opts Options) (*Controller, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
		opts.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if opts.PrepareRetry <= 0 {
		opts.PrepareRetry = 2 * time.Second
	}
	if opts.Keepalive <= 0 {
		opts.Keepalive = 15 * time.Second
	}
	if opts.Name == "" {
		opts.Name, _ = os.Hostname()
	}
	c := &Controller{
		opts:        opts,
		name:        opts.Name,
		log:         opts.Logger.With("component", "controller"),
		reg:         opts.Registry,
		conns:       newConns(opts),
		dns:         &swappableDNS{},
		confirmed:   map[string]time.Time{},
		suspects:    map[string]time.Time{},
		findings:    newFindings(),
		monReload:   make(chan struct{}, 1),
		ready:       make(chan struct{}),
		roleChanged: make(chan struct{}),
		spareCap:    &spareCapacity{last: map[string]capSample{}},
		vms:         &vmViews{standbys: map[string]standbyView{}},
	}
	c.metrics = newMetrics(c.reg)
	c.reg.MustRegister(newVMCollector(c))
	c.registerObservability()
	if err := checkListen(c.listenAddr(inv), inv.Monitor); err != nil { // before any I/O; listen checks again
		return nil, err
	}
	if err := c.apply(inv); err != nil {
		return nil, err
	}
	return c, nil
}

// plan returns the plan in force.
func (c *Controller) plan() *plan {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.cur
}

// apply builds everything from inv and swaps it in, or changes nothing.
func (c *Controller) apply(inv *inventory.Inventory) error {
	p, err := buildPlan(inv)
	if err != nil {
		return err
	}
	if c.opts.HoldDown > 0 {
		for name, cfg := range p.services {
			cfg.Moves.HoldDown = c.opts.HoldDown
			p.services[name] = cfg
		}
	}
	dns := c.opts.DNS
	if dns == nil {
		if dns, err = dnsFromInventory(inv); err != nil {
			return err
		}
	}
	token, err := loadAPIToken(inv.Monitor)
	if err != nil {
		return err
	}
	if err := c.conns.update(inv); err != nil {
		return err
	}
	c.dns.set(dns)
	c.mu.Lock()
	c.cur, c.apiToken = p, token
	c.mu.Unlock()
	return nil
}

// dnsFromInventory builds the DNS client of the inventory's dns section.
func dnsFromInventory(inv *inventory.Inventory) (executor.DNS, error) {
	key, err := dnsupdate.LoadKeyFile(inv.DNS.TSIGKeyFile)
	if err != nil {
		return nil, fmt.Errorf("dns.tsig-key-file: %w", err)
	}
	cl, err := dnsupdate.New(dnsupdate.Config{Server: inv.DNS.Server, Zone: inv.DNS.Zone, Key: key, Timeout: inv.DNS.Timeout})
	if err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	return &DNSAdapter{Client: cl, TTL: inv.DNS.TTL, Verify: inv.DNS.Verify}, nil
}

// Addr returns the HTTP address once Run serves (nil before).
func (c *Controller) Addr() net.Addr {
	if !c.running() {
		return nil
	}
	return c.addr
}

// Run runs the daemon until ctx ends; it returns after every goroutine it
// started stopped. It fails early when the store, the listener or the ICMP
// socket cannot be had. The monitor probes and the API serves from the
// start; the executor runs while this monitor leads (term.go).
func (c *Controller) Run(ctx context.Context) error {
	closeAll, monMetrics, err := c.open(ctx)
	defer closeAll()
	if err != nil {
		return err
	}
	ln, err := c.listen(c.plan().inv)
	if err != nil {
		return err
	}
	closeElector, err := c.openElector(ctx, ln.Addr())
	if err != nil {
		ln.Close()
		return err
	}
	defer closeElector()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	var wg sync.WaitGroup
	events := make(chan probe.Event, 64)
	for _, f := range []func(){
		func() { c.observeLeader(runCtx) },
		func() { c.leadLoop(runCtx) },
		func() { c.superviseMonitor(runCtx, monMetrics, events) },
		func() { c.consume(runCtx, events, &wg) },
		func() { c.passOnFindings(runCtx) },
	} {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	err = c.serve(ctx, runCtx, cancel, ln, &wg)
	cancel()
	wg.Wait()
	c.log.Info("monitor stopped")
	return err
}

// open opens the store, the ICMP socket and the migrator. The returned
// function closes what was opened, also on error.
func (c *Controller) open(ctx context.Context) (func(), *probe.Metrics, error) {
	var closers []func()
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	closers = append(closers, c.conns.close)
	if err := c.openStore(ctx, c.plan().inv, &closers); err != nil {
		return closeAll, nil, err
	}
	closePinger, err := c.openPinger()
	if err != nil {
		return closeAll, nil, err
	}
	closers = append(closers, closePinger)
	monMetrics, err := probe.NewMetrics(c.reg)
	if err != nil {
		return closeAll, nil, fmt.Errorf("register monitor metrics: %w", err)
	}
	migrator, closeMigrator := c.migrator()
	closers = append(closers, closeMigrator)
	c.mig = migrator
	c.recoverMetrics = executor.NewMetrics(c.reg)
	return closeAll, monMetrics, nil
}

// newExecutor builds the executor of one term.
func (c *Controller) newExecutor(store store.Store, epoch uint64) *executor.Executor {
	p := c.plan()
	return executor.New(executor.Config{
		Store: store,
		Deps: executor.Deps{
			Confirmer: &confirmer{c}, Fencer: &fencer{c}, Activator: &activator{c},
			Health: &healthChecker{c}, DNS: c.dns, DNSVerify: c.dns,
			Notifier: &executor.Webhook{}, Execer: executor.Command{},
			Migrator: c.mig, Deactivator: &deactivator{c}, // Holder nil: see migrator
		},
		Services: p.services,
		Epoch:    epoch,
		Flap:     flapPolicy(p.inv),
		// Alerts (stuck, unfenced, unprotected) and notify steps without a
		// url go to probe.alert-url; a change needs a new term.
		AlertURL: p.inv.Monitor.AlertURL,
		// A change needs a new term (a restart): the slots are the executor's.
		MaxMigrations: p.inv.Migration.MaxParallel,
		Logger:        c.opts.Logger,
		Metrics:       c.recoverMetrics,
		OnSave:        c.onSave,
	})
}

// serve serves HTTP on ln until ctx ends or serving fails, then stops runCtx
// (which ends the placement streams, whose requests derive from it) and shuts
// the server down.
func (c *Controller) serve(ctx, runCtx context.Context, stop context.CancelFunc, ln net.Listener, wg *sync.WaitGroup) error {
	// Refused TLS handshakes (api-tls) and other server errors, as warnings.
	srv := httpserve.New(c.handler(), apiLimits, slog.NewLogLogger(c.log.Handler(), slog.LevelWarn))
	srv.BaseContext = func(net.Listener) context.Context { return runCtx }
	serveErr := make(chan error, 1)
	wg.Add(1)
	go func() { defer wg.Done(); serveErr <- srv.Serve(ln) }()
	c.addr = ln.Addr()
	close(c.ready)
	c.log.Info("monitor serving", "listen", c.addr.String(), "scheme", c.peers.scheme, "services", len(c.plan().services), "epoch", c.epoch())
	if c.opts.Serving != nil {
		c.opts.Serving(c.addr)
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		err = fmt.Errorf("serve HTTP on %s: %w", c.addr, err)
	}
	stop()
	shut, done := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer done()
	if serr := srv.Shutdown(shut); serr != nil {
		srv.Close()
	}
	return err
}

// apiLimits are the API server's timeouts and connection cap (package
// httpserve's defaults, a shorter header timeout). The cap stays at least
// twice store.DefaultMaxWatchers: placement streams (which need no
// credential on a loopback API) get 503 long before they could take every
// connection from suspect, failover and reset.
var apiLimits = httpserve.Limits{ReadHeader: 5 * time.Second, MaxConns: httpserve.DefaultMaxConns}

// listen opens the API's listener: plain HTTP, or mutual TLS with
// probe.api-tls (apitls.go); never beyond loopback without it unless
// probe.insecure-api (auth.go).
func (c *Controller) listen(inv *inventory.Inventory) (net.Listener, error) {
	addr := c.listenAddr(inv)
	if err := checkListen(addr, inv.Monitor); err != nil {
		return nil, err
	}
	raw, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	ln := httpserve.Cap(raw, apiLimits) // below TLS: see httpserve.Cap
	tln, err := c.apiTLS(ln, inv)
	if err != nil {
		ln.Close()
		return nil, err
	}
	c.warnNoCredential()
	return tln, nil
}

// listenAddr is the API's address: Options.Listen, else probe.listen.
func (c *Controller) listenAddr(inv *inventory.Inventory) string {
	if c.opts.Listen != "" {
		return c.opts.Listen
	}
	return inv.Monitor.Listen
}

// openPinger opens the ICMP socket the monitor's probes share, unless the
// probes are replaced in Options.
func (c *Controller) openPinger() (func(), error) {
	if c.opts.Probers != nil {
		return func() {}, nil
	}
	pinger, err := icmp.New()
	if err != nil {
		return nil, fmt.Errorf("open ICMP socket (needs root or CAP_NET_RAW): %w", err)
	}
	c.pinger = pinger
	return func() { pinger.Close() }, nil
}

// probesFor returns the probes for a plan: the ones in Options, or the
// monitor's, bound to the pinger and the plan's hypervisors.
func (c *Controller) probesFor(p *plan) map[probe.Kind]probe.ProbeFunc {
	if c.opts.Probers != nil {
		return c.opts.Probers
	}
	hvs := map[string]probe.Hypervisor{}
	for _, h := range p.inv.Hypervisors {
		hvs[h.Name] = c.hypervisorProbe(h.Name)
	}
	return probe.Probers(probe.Deps{Pinger: c.pinger, Hypervisors: hvs})
}

// hypervisorProbe adapts one hypervisor's API to the probe.
func (c *Controller) hypervisorProbe(name string) probe.Hypervisor {
	return probe.HypervisorFuncs{
		StateFunc: func(ctx context.Context, instance string) (bool, error) {
			hv, err := c.conns.hypervisor(ctx, name)
			if err != nil {
				return false, err
			}
			st, err := hv.State(ctx, instance)
			if err != nil {
				return false, err
			}
			return st.Running, nil
		},
		CheckAPIFunc: func(ctx context.Context) error {
			hv, err := c.conns.hypervisor(ctx, name)
			if err != nil {
				return err
			}
			_, err = hv.ServerInfo(ctx)
			return err
		},
	}
}

// errNotRunning is returned by API calls before Run serves.
var errNotRunning = errors.New("controller is not running")

// running reports whether Run has started serving (and set the executor,
// the store, the epoch and the preparer).
func (c *Controller) running() bool {
	select {
	case <-c.ready:
		return true
	default:
		return false
	}
}

// syncServices gives the term's executor, if any, the services of the plan
// in force. mu is held throughout, so a reload and a new term cannot leave
// the executor on the older plan.
func (c *Controller) syncServices() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.term != nil {
		c.term.exec.SetServices(c.cur.services)
	}
}

// onSave is the executor's hook after every persisted record.
func (c *Controller) onSave(rec recover.Record) {
	if inc := rec.Incident; inc != nil && !inc.Open() {
		c.forgetConfirmations([]string{rec.Service})
		// The preparer skipped this service while the incident ran; a
		// container a failback used up must be prepared again now.
		c.preparer().poke()
	}
	if c.opts.OnSave != nil {
		c.opts.OnSave(rec)
	}
}
