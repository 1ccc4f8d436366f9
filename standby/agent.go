package standby

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/understudy/understudy/internal/yamlpos"
	"github.com/understudy/understudy/monitor/probe"
	"github.com/understudy/understudy/standby/config"
	"github.com/understudy/understudy/standby/criuprobe"
	"github.com/understudy/understudy/standby/epoch"
	"github.com/understudy/understudy/standby/fairshare"
	"github.com/understudy/understudy/standby/procstat"
)

// checkpointName is the snapshot a restore-mode service is restored from.
const checkpointName = "understudy-checkpoint"

// Agent keeps services prepared and activates them. It is safe for
// concurrent use; the HTTP server in server.go is a thin layer over it.
type Agent struct {
	cfg    config.Config
	rt     Runtime
	cp     Checkpointer // nil when the runtime cannot snapshot
	log    *slog.Logger
	epoch  *epoch.Guard
	store  *serviceStore
	criu   criuprobe.Status
	apparm bool // the kernel has AppArmor (criuprobe.RestoreRawLXC)
	// statefulCfg is the runtime's StatefulConfig, added to restore-mode containers.
	statefulCfg map[string]string
	version     string
	metrics     *metrics
	steal       *procstat.StealSampler
	load        *loadSampler
	pinger      probe.Pinger // POST /v1/probe's icmp probes; nil: not configured
	ready       atomic.Bool

	base   context.Context // activations run under it, detached from callers
	sem    chan struct{}   // bounds activations of different services
	flight singleflight.Group

	mu      sync.Mutex
	locks   map[string]*sync.Mutex // per service: prepare/activate/deactivate/delete never interleave
	running map[string]int64       // services running or starting, with their memory
	active  map[string]bool
	shares  map[string]fairshare.Share // fair shares of the active services, as last applied
	// noCkpt says why a restore-mode service has no checkpoint to restore
	// (its checkpoint at prepare failed); activation cold starts it.
	noCkpt map[string]string

	shareMu     sync.Mutex    // serialises Rebalance; guards the two below
	shareFailed bool          // the last Rebalance failed: apply every share again
	shareLeft   []string      // services that left but whose limits were not reset yet
	shareKick   chan struct{} // wakes the share loop
}

// AgentOptions are the agent's collaborators besides the runtime.
type AgentOptions struct {
	Logger  *slog.Logger
	CRIU    criuprobe.Status
	Version string
	// Pinger sends the ICMP echoes of POST /v1/probe (internal/icmp's
	// *Pinger in production); nil makes icmp probes fail as not configured.
	Pinger probe.Pinger
}

// agentState is the agent's persisted state: the epoch and the services.
type agentState struct {
	epoch *epoch.Guard
	store *serviceStore
}

// openState opens (creating when needed) the state in dir.
func openState(dir string) (*agentState, error) {
	if err := ensureDir(dir); err != nil {
		return nil, err
	}
	eg, err := epoch.Open(dir)
	if err != nil {
		return nil, err
	}
	st, err := openServiceStore(dir)
	if err != nil {
		return nil, err
	}
	return &agentState{epoch: eg, store: st}, nil
}

// NewAgent opens the agent's state in cfg.StateDir and returns an agent that
// is not ready yet; Reconcile makes it ready. base bounds every activation.
func NewAgent(base context.Context, cfg config.Config, rt Runtime, opts AgentOptions) (*Agent, error) {
	st, err := openState(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	return newAgent(base, cfg, st, rt, opts), nil
}

func newAgent(base context.Context, cfg config.Config, st *agentState, rt Runtime, opts AgentOptions) *Agent {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Agent{
		cfg: cfg, rt: rt, log: opts.Logger.With("component", "standby"),
		epoch: st.epoch, store: st.store, criu: opts.CRIU, apparm: criuprobe.KernelHasAppArmor(), version: opts.Version,
		metrics: newMetrics(), steal: procstat.NewStealSampler(procRoot), pinger: opts.Pinger, base: base,
		sem:   make(chan struct{}, cfg.MaxParallel),
		locks: map[string]*sync.Mutex{}, running: map[string]int64{}, active: map[string]bool{},
		shares: map[string]fairshare.Share{}, shareKick: make(chan struct{}, 1), noCkpt: map[string]string{},
	}
	a.load = newLoadSampler(cfg, rt, a.log)
	if cp, ok := rt.(Checkpointer); ok {
		// Stateful work is refused by the runtime until the probe proved CRIU.
		cp.SetStateful(opts.CRIU.Available)
		a.cp = cp
		if opts.CRIU.Available {
			sc, err := cp.StatefulConfig(base)
			if err != nil { // then the daemon may refuse the checkpoint: prepare says why
				a.log.Warn("ask the daemon what a stateful container needs", "err", err)
			}
			a.statefulCfg = sc
		}
	} else if opts.CRIU.Available {
		a.log.Warn("CRIU works but the runtime cannot checkpoint; restore mode will cold start")
	}
	a.registerGauges()
	return a
}

func (a *Agent) noCheckpoint(name string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.noCkpt[name]
}

// setNoCheckpoint records why name has no checkpoint; "" clears it.
func (a *Agent) setNoCheckpoint(name, why string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if why == "" {
		delete(a.noCkpt, name)
		return
	}
	a.noCkpt[name] = why
}

// lock serialises operations on one service and returns the unlock function.
func (a *Agent) lock(name string) func() {
	a.mu.Lock()
	l, ok := a.locks[name]
	if !ok {
		l = &sync.Mutex{}
		a.locks[name] = l
	}
	a.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// Reconcile learns which known services run, starts warm ones that do not,
// and marks the agent ready. Problems with single services are logged.
func (a *Agent) Reconcile(ctx context.Context) {
	for _, r := range a.store.list() {
		st, err := a.rt.State(ctx, r.Spec.Name)
		switch {
		case errors.Is(err, errInstanceNotFound):
			a.log.Warn("prepared service has no container; prepare it again", "service", r.Spec.Name)
			continue
		case err != nil:
			a.log.Warn("read container state", "service", r.Spec.Name, "err", err)
			continue
		}
		if st.Running {
			a.mu.Lock()
			a.running[r.Spec.Name] = r.Spec.Memory
			a.mu.Unlock()
			continue
		}
		if r.Spec.Mode == ModeWarm {
			if err := a.startReserved(ctx, r.Spec); err != nil {
				a.log.Warn("start warm service", "service", r.Spec.Name, "err", err)
			}
		}
	}
	a.ready.Store(true)
	a.log.Info("agent ready", "services", len(a.store.list()), "restore", a.criu.String())
}

// Ready reports whether Reconcile has finished.
func (a *Agent) Ready() bool { return a.ready.Load() }

// Health returns the body of GET /v1/health.
func (a *Agent) Health() Health {
	return Health{Name: a.cfg.Name, Ready: a.Ready(), Restore: a.criu.String(), Version: a.version, Epoch: a.epoch.Current()}
}

// reserve claims a slot and memory for name before anything starts. It
// returns ErrNoCapacity when the service does not fit, and a release
// function to call when the start fails.
func (a *Agent) reserve(name string, memory int64) (release func(), err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.running[name]; ok {
		return func() {}, nil
	}
	if n := len(a.running); n+1 > a.cfg.Capacity.Containers {
		return nil, fmt.Errorf("%w: %d of %d container slots in use", ErrNoCapacity, n, a.cfg.Capacity.Containers)
	}
	var used int64
	for _, m := range a.running {
		used += m
	}
	if limit := int64(a.cfg.Capacity.Memory); used+memory > limit {
		return nil, fmt.Errorf("%w: memory %s in use + %s for %q exceeds %s", ErrNoCapacity,
			yamlpos.FormatSize(used), yamlpos.FormatSize(memory), name, yamlpos.FormatSize(limit))
	}
	a.running[name] = memory
	return func() { a.markStopped(name) }, nil
}

func (a *Agent) markStopped(name string) {
	a.mu.Lock()
	delete(a.running, name)
	a.mu.Unlock()
}

func (a *Agent) isActive(name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.active[name]
}

func (a *Agent) isRunning(name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.running[name]
	return ok
}

// startReserved reserves capacity and starts the container, releasing the
// reservation when the start fails.
func (a *Agent) startReserved(ctx context.Context, spec ServiceSpec) error {
	release, err := a.reserve(spec.Name, spec.Memory)
	if err != nil {
		return err
	}
	if err := a.rt.Start(ctx, spec.Name); err != nil {
		release()
		return fmt.Errorf("start container %q: %w", spec.Name, err)
	}
	return nil
}

// stop stops the container and releases its capacity.
func (a *Agent) stop(ctx context.Context, name string) error {
	if err := a.rt.Stop(ctx, name, time.Duration(a.cfg.StopTimeout)); err != nil {
		return fmt.Errorf("stop container %q: %w", name, err)
	}
	a.markStopped(name)
	return nil
}

// instanceSpec turns a service record into the container the runtime creates.
func (a *Agent) instanceSpec(r record) InstanceSpec {
	cfg := make(map[string]string, len(r.Spec.Config)+2)
	for k, v := range r.Spec.Config {
		cfg[k] = v
	}
	if n := a.cfg.Network; n != nil && r.Address.IsValid() {
		cfg["environment.IPADDR"] = netip.PrefixFrom(r.Address, n.PrefixLen).String()
		cfg["environment.GATEWAY"] = n.Gateway
	}
	if r.Spec.Mode == ModeRestore {
		for k, v := range criuprobe.RestoreConfig(a.apparm, a.statefulCfg) { // CheckConfig refuses these keys in the spec
			cfg[k] = v
		}
	}
	spec := InstanceSpec{Name: r.Spec.Name, Image: r.Spec.Image, Config: cfg, CPU: r.Spec.CPU, Memory: r.Spec.Memory}
	if d := r.Spec.DataDisk; d != nil {
		spec.Devices = map[string]map[string]string{DataDiskDevice: {"type": "disk", "source": d.Source, "path": d.Path}}
	}
	a.withShare(&spec)
	return spec
}

// waitPort polls until addr:port accepts a TCP connection or ctx ends.
func waitPort(ctx context.Context, addr netip.Addr, port int) error {
	target := net.JoinHostPort(addr.String(), strconv.Itoa(port))
	var d net.Dialer
	for {
		dctx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
		c, err := d.DialContext(dctx, "tcp", target)
		cancel()
		if err == nil {
			c.Close()
			return nil
		}
		t := time.NewTimer(10 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("wait for %s to accept connections: %w (last: %v)", target, ctx.Err(), err)
		case <-t.C:
		}
	}
}

// Services lists the prepared services with their runtime state, by name.
// It reads the runtime once for all of them: the monitor's admission gate
// asks for this list before each decision, one after the other, while a
// whole host's services fail over.
func (a *Agent) Services(ctx context.Context) ([]ServiceStatus, error) {
	recs := a.store.list()
	slices.SortFunc(recs, func(x, y record) int { return strings.Compare(x.Spec.Name, y.Spec.Name) })
	states, err := a.rt.Statuses(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the containers' states: %w", err)
	}
	out := make([]ServiceStatus, 0, len(recs))
	for _, r := range recs {
		s := ServiceStatus{Spec: r.Spec, Status: "Missing"}
		if r.Address.IsValid() {
			s.Address = r.Address.String()
		}
		if st, ok := states[r.Spec.Name]; ok {
			s.Status, s.Running = st.Status, st.Running
		}
		a.mu.Lock()
		s.Active = a.active[r.Spec.Name]
		a.mu.Unlock()
		out = append(out, s)
	}
	return out, nil
}
