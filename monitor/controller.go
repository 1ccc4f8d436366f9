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

	"github.com/understudy/understudy/dnsupdate"
	"github.com/understudy/understudy/ha"
	"github.com/understudy/understudy/internal/clock"
	"github.com/understudy/understudy/internal/httpserve"
	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/lxd"
	"github.com/understudy/understudy/monitor/admission"
	"github.com/understudy/understudy/monitor/capacity"
	"github.com/understudy/understudy/monitor/cluster"
	"github.com/understudy/understudy/monitor/conns"
	"github.com/understudy/understudy/monitor/contentsync"
	"github.com/understudy/understudy/monitor/findings"
	"github.com/understudy/understudy/monitor/httpapi"
	"github.com/understudy/understudy/monitor/plan"
	"github.com/understudy/understudy/monitor/probe"
	"github.com/understudy/understudy/monitor/steps"
	"github.com/understudy/understudy/monitor/supervise"
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
	conns   *conns.Conns
	dns     *steps.SwappableDNS
	step    *steps.Steps          // the executor's steps (package steps)
	gate    *admission.Gate       // admits activations onto full standbys (package admission)
	super   *supervise.Supervisor // runs the probe engine (package supervise)

	mu        sync.RWMutex
	cur       *plan.Plan
	confirmed map[string]time.Time // service -> when the monitor's agent confirmed it down
	findings  *findings.Set        // failures no leader took yet (package findings)
	apiToken  string               // monitor.api-token-file's token (httpapi.LoadToken)

	roles *roles // who leads (roles.go)

	// Set by Run before it serves.
	name      string      // this monitor's name among its peers
	elector   *ha.Elector // nil with Options.Store
	store     store.Store // the shared store, for reads
	etcdStore *store.Etcd // the same, unguarded, for the terms' guarded stores
	addr      net.Addr
	peers     peerAPI // how to call another monitor's API (apitls.go)
	mtls      bool    // monitor.api-tls: every API connection has a verified client certificate
	monitorCN string  // the common name of the monitors' certificate (api-tls.cert)
	mig       executor.Migrator
	cluster   *cluster.Cluster   // the shared etcd; nil with Options.Store
	spareCap  *capacity.Spares   // the spares' last capacity samples
	vms       *capacity.Standbys // the standbys' last capacity samples

	recoverMetrics *executor.Metrics
	ready          chan struct{} // closed once Run serves

	syncer *contentsync.Runner // the services' content syncs (contentsync.go)
	bw     *lxd.Limiter        // migration.bandwidth, shared by the migrations and the syncs (bandwidth)
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
	if opts.Clock == nil {
		opts.Clock = clock.Wall
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
		opts:      opts,
		name:      opts.Name,
		log:       opts.Logger.With("component", "controller"),
		reg:       opts.Registry,
		conns:     conns.New(opts.Agents, opts.Hypervisors),
		dns:       &steps.SwappableDNS{},
		confirmed: map[string]time.Time{},
		findings:  findings.New(),
		ready:     make(chan struct{}),
		roles:     newRoles(opts.Name),
		spareCap:  capacity.NewSpares(),
		vms:       capacity.NewStandbys(),
		bw:        lxd.NewLimiter(0),
	}
	c.metrics = newMetrics(c.reg)
	c.syncer = c.newSyncer()
	c.reg.MustRegister(contentsync.NewCollector(c.syncer, func() bool { return c.roles.leading() != nil }))
	c.super = supervise.New(supervise.Config{Plan: c.plan, Agents: agentsAs[supervise.Agent]{c.conns}, Hypervisors: hypervisorsAs[supervise.Hypervisor]{c.conns}, Probers: opts.Probers, Clock: opts.Clock, Logger: opts.Logger})
	c.gate = c.newGate()
	c.step = steps.New(steps.Config{Plan: c.plan, Agents: agentsAs[steps.Agent]{c.conns}, Hypervisors: hypervisorsAs[steps.Hypervisor]{c.conns}, Probes: c.super.Probes, ConfirmedAt: c.confirmedAt, Gate: c.gate})
	c.reg.MustRegister(capacity.NewCollector(c.vmStatus, c.vms))
	c.registerObservability()
	if err := httpapi.CheckListen(c.listenAddr(inv), inv.Monitor); err != nil { // before any I/O; listen checks again
		return nil, err
	}
	if err := c.apply(inv); err != nil {
		return nil, err
	}
	return c, nil
}

// plan returns the plan in force.
func (c *Controller) plan() *plan.Plan {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.cur
}

// apply builds everything from inv and swaps it in, or changes nothing.
func (c *Controller) apply(inv *inventory.Inventory) error {
	p, err := plan.Build(inv)
	if err != nil {
		return err
	}
	if c.opts.HoldDown > 0 {
		for name, cfg := range p.Services {
			cfg.Moves.HoldDown = c.opts.HoldDown
			p.Services[name] = cfg
		}
	}
	dns := c.opts.DNS
	if dns == nil {
		if dns, err = dnsFromInventory(inv); err != nil {
			return err
		}
	}
	token, err := httpapi.LoadToken(inv.Monitor)
	if err != nil {
		return err
	}
	if err := c.conns.Update(inv); err != nil {
		return err
	}
	c.dns.Set(dns)
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
	return &steps.DNSAdapter{Client: cl, TTL: inv.DNS.TTL, Verify: inv.DNS.Verify}, nil
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
	ln, err := c.listen(c.plan().Inv)
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
		func() { c.super.Run(runCtx, monMetrics, events) },
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
	closers = append(closers, c.conns.Close)
	if err := c.openStore(ctx, c.plan().Inv, &closers); err != nil {
		return closeAll, nil, err
	}
	closePinger, err := c.super.OpenPinger()
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
			Confirmer: c.step, Fencer: c.step, Activator: c.step,
			Health: c.step, DNS: c.dns, DNSVerify: c.dns,
			Notifier: &executor.Webhook{}, Execer: executor.Command{},
			Migrator: c.mig, Deactivator: c.step, // Holder nil: see migrator
		},
		Services: p.Services,
		Epoch:    epoch,
		Flap:     plan.FlapPolicy(p.Inv),
		// Alerts (stuck, unfenced, unprotected) and notify steps without a
		// url go to monitor.alert-url; a change needs a new term.
		AlertURL: p.Inv.Monitor.AlertURL,
		// A change needs a new term (a restart): the slots are the executor's.
		MaxMigrations: p.Inv.Migration.MaxParallel,
		Logger:        c.opts.Logger,
		Clock:         c.opts.Clock,
		Metrics:       c.recoverMetrics,
		OnSave:        c.onSave,
		CopyAge:       c.copyAge,
	})
}

// serve serves HTTP on ln until ctx ends or serving fails, then stops runCtx
// (which ends the placement streams, whose requests derive from it) and shuts
// the server down.
func (c *Controller) serve(ctx, runCtx context.Context, stop context.CancelFunc, ln net.Listener, wg *sync.WaitGroup) error {
	// Refused TLS handshakes (api-tls) and other server errors, as warnings.
	apiSrv := c.newAPI()
	apiSrv.WarnNoCredential()
	srv := httpserve.New(apiSrv.Handler(), apiLimits, slog.NewLogLogger(c.log.Handler(), slog.LevelWarn))
	srv.BaseContext = func(net.Listener) context.Context { return runCtx }
	serveErr := make(chan error, 1)
	wg.Add(1)
	go func() { defer wg.Done(); serveErr <- srv.Serve(ln) }()
	c.addr = ln.Addr()
	close(c.ready)
	c.log.Info("monitor serving", "listen", c.addr.String(), "scheme", c.peers.scheme, "services", len(c.plan().Services), "epoch", c.roles.epoch())
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
// monitor.api-tls (apitls.go); never beyond loopback without it unless
// monitor.insecure-api (httpapi.CheckListen).
func (c *Controller) listen(inv *inventory.Inventory) (net.Listener, error) {
	addr := c.listenAddr(inv)
	if err := httpapi.CheckListen(addr, inv.Monitor); err != nil {
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
	return tln, nil
}

// listenAddr is the API's address: Options.Listen, else monitor.listen.
func (c *Controller) listenAddr(inv *inventory.Inventory) string {
	if c.opts.Listen != "" {
		return c.opts.Listen
	}
	return inv.Monitor.Listen
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
	if t := c.roles.leading(); t != nil {
		t.exec.SetServices(c.cur.Services)
	}
}

// onSave is the executor's hook after every persisted record.
func (c *Controller) onSave(rec recover.Record) {
	c.stopSyncOn(rec)
	if inc := rec.Incident; inc == nil || !inc.Open() || rec.State == recover.Primary {
		// A failure that never reached its activate step (damped,
		// refused, closed) no longer holds a place a lower priority
		// needs: without this it would until the gate's PendingTTL.
		c.gate.Forget(rec.Service)
	}
	if inc := rec.Incident; inc != nil && !inc.Open() {
		c.forgetConfirmations([]string{rec.Service})
		// The preparer skipped this service while the incident ran; a
		// container a failback used up must be prepared again now.
		c.preparer().Poke()
	}
	if c.opts.OnSave != nil {
		c.opts.OnSave(rec)
	}
}
