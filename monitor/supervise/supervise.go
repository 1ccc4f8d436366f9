// Package supervise runs the monitor daemon's probe engine (monitor/probe)
// on the plan in force, on every monitor whether it leads or not, and
// restarts it on the new plan after each reload (a restart forgets the
// targets' hysteresis counts). It binds the engine's probes to the ICMP
// socket it owns and to the hypervisors' APIs, and its confirmations to
// the standby agents.
//
// It sees the daemon through small interfaces (Agents, Hypervisors) and
// the plan in force; what becomes of the engine's events is the daemon's
// business (package monitor turns failures into triggers).
package supervise

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/understudy/understudy/internal/clock"
	"github.com/understudy/understudy/internal/icmp"
	"github.com/understudy/understudy/lxd"
	"github.com/understudy/understudy/monitor/plan"
	"github.com/understudy/understudy/monitor/probe"
	"github.com/understudy/understudy/standby"
)

// Agent is what a confirmation needs of a standby agent.
type Agent interface {
	Probe(ctx context.Context, req standby.ProbeRequest) (standby.ProbeResult, error)
}

// Agents returns the agent client of a standby VM. Safe for concurrent use.
type Agents interface {
	Agent(standby string) (Agent, error)
}

// Hypervisor is what the hypervisor probes need of a hypervisor's API.
type Hypervisor interface {
	Statuses(ctx context.Context) (map[string]lxd.State, error)
	ServerInfo(ctx context.Context) (lxd.ServerInfo, error)
}

// Hypervisors returns the API of a hypervisor, connecting on first use.
// Safe for concurrent use.
type Hypervisors interface {
	Hypervisor(ctx context.Context, name string) (Hypervisor, error)
}

// Config is what New needs.
type Config struct {
	// Plan returns the plan in force.
	Plan        func() *plan.Plan
	Agents      Agents
	Hypervisors Hypervisors
	// Probers replaces the engine's probes (tests); nil uses probe.Probers
	// with the ICMP socket (OpenPinger) and the hypervisors.
	Probers map[probe.Kind]probe.ProbeFunc
	// Clock is the probe engine's (default clock.Wall).
	Clock  clock.Clock
	Logger *slog.Logger
}

// Supervisor runs the probe engine. Create it with New, open its socket
// with OpenPinger, and call Run once.
type Supervisor struct {
	cfg    Config
	log    *slog.Logger
	pinger probe.Pinger
	reload chan struct{}
}

// New returns the supervisor of cfg.
func New(cfg Config) *Supervisor {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Supervisor{cfg: cfg, log: cfg.Logger.With("component", "controller"), reload: make(chan struct{}, 1)}
}

// OpenPinger opens the ICMP socket the probes share (root or
// CAP_NET_RAW), unless Config.Probers replaces the probes. The returned
// function closes it.
func (s *Supervisor) OpenPinger() (func(), error) {
	if s.cfg.Probers != nil {
		return func() {}, nil
	}
	pinger, err := icmp.New()
	if err != nil {
		return nil, fmt.Errorf("open ICMP socket (needs root or CAP_NET_RAW): %w", err)
	}
	s.pinger = pinger
	return func() { pinger.Close() }, nil
}

// Reload asks Run to restart the engine on the plan in force. It never
// blocks: a reload that lands while Run starts is not lost.
func (s *Supervisor) Reload() {
	select {
	case s.reload <- struct{}{}:
	default:
	}
}

// Probes returns the probes for a plan: Config.Probers, or the engine's,
// bound to the pinger and the plan's hypervisors.
func (s *Supervisor) Probes(p *plan.Plan) map[probe.Kind]probe.ProbeFunc {
	if s.cfg.Probers != nil {
		return s.cfg.Probers
	}
	hvs := map[string]probe.Hypervisor{}
	for _, h := range p.Inv.Hypervisors {
		hvs[h.Name] = s.hypervisorProbe(h.Name)
	}
	return probe.Probers(probe.Deps{Pinger: s.pinger, Hypervisors: hvs})
}

// hypervisorProbe adapts one hypervisor's API to the probe; its instance
// probes share listings (statusBatch).
func (s *Supervisor) hypervisorProbe(name string) probe.Hypervisor {
	batch := &statusBatch{list: func(ctx context.Context) (map[string]lxd.State, error) {
		hv, err := s.cfg.Hypervisors.Hypervisor(ctx, name)
		if err != nil {
			return nil, err
		}
		return hv.Statuses(ctx)
	}}
	return probe.HypervisorFuncs{
		StateFunc: func(ctx context.Context, instance string) (bool, error) {
			st, err := batch.state(ctx, instance)
			if err != nil {
				return false, err
			}
			return st.Running, nil
		},
		CheckAPIFunc: func(ctx context.Context) error {
			hv, err := s.cfg.Hypervisors.Hypervisor(ctx, name)
			if err != nil {
				return err
			}
			_, err = hv.ServerInfo(ctx)
			return err
		},
	}
}

// Confirmer is the engine's Confirmer: it sends the probe to the agent of
// the standby that serves the probed VM.
func (s *Supervisor) Confirmer() probe.Confirmer {
	return probe.ConfirmerFunc(func(ctx context.Context, r probe.ProbeRequest) (probe.ProbeResult, error) {
		p := s.cfg.Plan()
		name, ok := p.ByVM[r.Address]
		if !ok && len(p.Inv.Standby) > 0 {
			name = p.Inv.Standby[0].Name
		}
		agent, err := s.cfg.Agents.Agent(name)
		if err != nil {
			return probe.ProbeResult{}, err
		}
		res, err := agent.Probe(ctx, standby.ProbeRequest{Address: r.Address, Kind: standby.ProbeKind(r.Kind), Port: r.Port,
			TimeoutMS: r.TimeoutMS, Path: r.Path, ExpectStatus: r.ExpectStatus})
		if err != nil {
			return probe.ProbeResult{}, fmt.Errorf("ask standby %q to probe %s: %w", name, r.Address, err)
		}
		return probe.ProbeResult{OK: res.OK, RTTMS: res.RTTMS, Error: res.Error}, nil
	})
}

// Run runs the engine on the plan in force, sending its events to events,
// and restarts it on the new plan after each Reload, until ctx ends.
func (s *Supervisor) Run(ctx context.Context, m *probe.Metrics, events chan probe.Event) {
	for {
		p := s.cfg.Plan()
		mon, err := probe.New(p.Monitor, probe.Options{
			Probers:   s.Probes(p),
			Sink:      probe.ChanSink(events),
			Confirmer: s.Confirmer(),
			Metrics:   m,
			Clock:     s.cfg.Clock,
			Logger:    s.cfg.Logger,
		})
		if err != nil { // plan.Build validated the plan; this is a bug
			s.log.Error("cannot start the monitor", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-s.reload:
				continue
			}
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); _ = mon.Run(runCtx) }()
		select {
		case <-ctx.Done():
		case <-s.reload:
			s.log.Info("restarting the monitor on the reloaded inventory", "targets", len(mon.Targets()))
		}
		cancel()
		<-done
		if ctx.Err() != nil {
			return
		}
	}
}
