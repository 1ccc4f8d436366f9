// Package steps holds the monitor daemon's side of the incident
// executor's steps: the implementations of executor.Confirmer, Fencer,
// Activator, HealthChecker and Deactivator over the standby agents, the
// hypervisors and the probe engine, and executor.DNS over a dnsupdate
// client (dns.go). The executor (recover/executor) decides when each runs;
// these only perform them.
//
// Steps sees the daemon through small interfaces: Agents, Hypervisors and
// the plan in force; it opens no clients itself.
package steps

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/understudy/understudy/lxd"
	"github.com/understudy/understudy/monitor/plan"
	"github.com/understudy/understudy/monitor/probe"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/executor"
	"github.com/understudy/understudy/standby"
)

// The executor's step interfaces that Steps implements.
var (
	_ executor.Confirmer     = (*Steps)(nil)
	_ executor.Fencer        = (*Steps)(nil)
	_ executor.Activator     = (*Steps)(nil)
	_ executor.HealthChecker = (*Steps)(nil)
	_ executor.Deactivator   = (*Steps)(nil)
)

// Agent is what the steps need of a standby agent (*standby.Client).
type Agent interface {
	Activate(ctx context.Context, epoch uint64, name string) (standby.Activation, error)
	Deactivate(ctx context.Context, epoch uint64, name string) (standby.ServiceStatus, error)
	Probe(ctx context.Context, req standby.ProbeRequest) (standby.ProbeResult, error)
}

// Agents returns the agent client of a standby VM. Safe for concurrent use.
type Agents interface {
	Agent(standby string) (Agent, error)
}

// Hypervisors returns the API of a hypervisor (lxd.Client), connecting on
// first use. Safe for concurrent use.
type Hypervisors interface {
	Hypervisor(ctx context.Context, name string) (Hypervisor, error)
}

// Hypervisor is what the fence step needs of a hypervisor's API.
type Hypervisor interface {
	State(ctx context.Context, name string) (lxd.State, error)
	Stop(ctx context.Context, name string, timeout time.Duration) error
	Freeze(ctx context.Context, name string) error
}

// Config is what New needs.
type Config struct {
	// Plan returns the plan in force.
	Plan        func() *plan.Plan
	Agents      Agents
	Hypervisors Hypervisors
	// Probes returns the probe engine's probes for a plan (the service
	// check of the healthy step).
	Probes func(*plan.Plan) map[probe.Kind]probe.ProbeFunc
	// ConfirmedAt returns when the monitor's agent confirmed a service down,
	// if that is recent enough to stand in for the confirm step.
	ConfirmedAt func(service string) (time.Time, bool)
	// Gate, optional, admits each activation onto its standby and bounds
	// how many run at once (monitor/admission).
	Gate Gate
}

// Gate admits an activation (monitor/admission.Gate): Admit refuses a
// service its standby cannot take (an error wrapping recover.ErrPermanent)
// or returns the release to call once the activation returned; Freed says
// that a container left a standby.
type Gate interface {
	Admit(ctx context.Context, service string) (release func(ok bool), err error)
	Freed()
}

// Steps performs the executor's steps. Safe for concurrent use.
type Steps struct{ cfg Config }

// New returns the steps of cfg.
func New(cfg Config) *Steps { return &Steps{cfg: cfg} }

// ConfirmDown asks the service's standby agent whether the primary is down:
// the service's own HTTP check, or one TCP connect to the service port, from
// the standby VM (a frozen VM still completes TCP handshakes in its kernel,
// so an HTTP service is confirmed over HTTP). When the monitor
// confirmed the failure with the same agent moments ago (its own confirmation
// step, see monitor/README.md), that answer is used instead of asking again.
func (f *Steps) ConfirmDown(ctx context.Context, svc recover.Service) (bool, string, error) {
	if at, ok := f.cfg.ConfirmedAt(svc.Name); ok {
		return true, fmt.Sprintf("the monitor's agent confirmation at %s", at.UTC().Format(time.RFC3339Nano)), nil
	}
	p := f.cfg.Plan()
	agent, err := f.cfg.Agents.Agent(svc.Standby)
	if err != nil {
		return false, "", err
	}
	// The agent's probe gets the monitor's own probe timeout (at least
	// 50 ms, at most 500 ms): a primary that is gone without a word
	// (blackhole, paused VM, stopped VM whose address nobody answers)
	// costs the confirmation exactly that. The hop to the agent is not
	// part of it: the step's own deadline bounds the request.
	timeout := min(max(p.Inv.Monitor.Timeout, 50*time.Millisecond), 500*time.Millisecond)
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl)*3/4)
	}
	req := standby.ProbeRequest{Address: svc.Address.String(), Kind: standby.ProbeTCP,
		Port: p.Specs[svc.Name].Port, TimeoutMS: max(int(timeout/time.Millisecond), 1)}
	if s := p.Inv.Service(svc.Name); s != nil && s.Check.HTTP != nil && s.Check.HTTP.Scheme != "https" {
		req.Kind, req.Path, req.ExpectStatus = standby.ProbeHTTP, s.Check.HTTP.Path, s.Check.HTTP.ExpectStatus
	}
	res, err := agent.Probe(ctx, req)
	if err != nil {
		return false, "", fmt.Errorf("ask standby %q to probe %s:%d: %w", svc.Standby, req.Address, req.Port, err)
	}
	if res.OK {
		return false, fmt.Sprintf("standby %q reaches %s:%d by %s (%.2f ms)", svc.Standby, req.Address, req.Port, req.Kind, res.RTTMS), nil
	}
	return true, fmt.Sprintf("standby %q cannot reach %s:%d by %s: %s", svc.Standby, req.Address, req.Port, req.Kind, res.Error), nil
}

// Freeze freezes the primary's instance through its hypervisor: a frozen
// instance neither serves nor writes, so the fence is confirmed once the
// freeze is. An instance that is already frozen or stopped (a vm-stop) is
// fenced too, and so is one being stopped whose init has exited (its tasks
// are killed with it): both at once (lxd.ErrStopped, lxd.ErrStopping; no
// second round trip, no wait for the stop to end); when the freeze fails
// otherwise, the instance's state decides.
func (f *Steps) Freeze(ctx context.Context, hypervisor, instance string) error {
	hv, err := f.cfg.Hypervisors.Hypervisor(ctx, hypervisor)
	if err != nil {
		return err
	}
	ferr := hv.Freeze(ctx, instance)
	if ferr == nil || errors.Is(ferr, lxd.ErrStopped) || errors.Is(ferr, lxd.ErrStopping) {
		return nil
	}
	st, err := hv.State(ctx, instance)
	if err == nil && (st.Frozen || (!st.Running && st.Status == "Stopped")) {
		return nil
	}
	return fmt.Errorf("freeze instance %q on hypervisor %q: %w", instance, hypervisor, ferr)
}

// ForceStop force-stops the primary's instance through its hypervisor.
func (f *Steps) ForceStop(ctx context.Context, hypervisor, instance string) error {
	hv, err := f.cfg.Hypervisors.Hypervisor(ctx, hypervisor)
	if err != nil {
		return err
	}
	if err := hv.Stop(ctx, instance, 0); err != nil {
		return fmt.Errorf("force-stop instance %q on hypervisor %q: %w", instance, hypervisor, err)
	}
	return nil
}

// Activate asks the standby agent to activate the service's container.
func (a *Steps) Activate(ctx context.Context, epoch uint64, service string) (executor.Activation, error) {
	p := a.cfg.Plan()
	name, ok := p.Standbys[service]
	if !ok {
		return executor.Activation{}, fmt.Errorf("service %q: %w", service, executor.ErrUnknownService)
	}
	agent, err := a.cfg.Agents.Agent(name)
	if err != nil {
		return executor.Activation{}, err
	}
	if g := a.cfg.Gate; g != nil {
		release, err := g.Admit(ctx, service)
		if err != nil {
			return executor.Activation{}, err
		}
		var ok bool
		defer func() { release(ok) }()
		act, err := a.activate(ctx, agent, epoch, service, p)
		ok = err == nil
		return act, err
	}
	return a.activate(ctx, agent, epoch, service, p)
}

// activate asks agent to activate service and checks the address it answers.
func (a *Steps) activate(ctx context.Context, agent Agent, epoch uint64, service string, p *plan.Plan) (executor.Activation, error) {
	name := p.Standbys[service]
	act, err := agent.Activate(ctx, epoch, service)
	if err != nil {
		switch {
		case errors.Is(err, standby.ErrNoCapacity):
			// The agent's own reservation: the same refusal as the gate's.
			err = fmt.Errorf("%w: %w", recover.ErrPermanent, &recover.UnprotectedError{Reason: err.Error(), Err: err})
		case errors.Is(err, standby.ErrStaleEpoch):
			err = fmt.Errorf("%w: %w", recover.ErrPermanent, err)
		}
		return executor.Activation{}, err
	}
	addr, err := netip.ParseAddr(act.Address)
	if err != nil {
		return executor.Activation{}, fmt.Errorf("standby %q answered address %q: %w", name, act.Address, err)
	}
	if pool, ok := p.Pools[name]; ok && !pool.Contains(addr) {
		// Never into DNS: a broken or hostile agent must not steer clients.
		return executor.Activation{}, fmt.Errorf("%w: standby %q answered address %s, outside its pool %s (standby[].network.pool)",
			recover.ErrPermanent, name, addr, pool)
	}
	out := executor.Activation{Address: addr, Restored: act.Restored, Fallback: act.FallbackReason}
	for _, ph := range act.Phases {
		out.Phases = append(out.Phases, recover.AgentPhase{Name: ph.Name, MS: int64(ph.MS + 0.5)})
	}
	return out, nil
}

// Check runs the service's check (the monitor's probe) once against addr.
func (h *Steps) Check(ctx context.Context, service string, addr netip.Addr) error {
	p := h.cfg.Plan()
	t, ok := p.Checks[service]
	if !ok {
		return fmt.Errorf("service %q: %w", service, executor.ErrUnknownService)
	}
	t.Address = addr.String()
	probe := h.cfg.Probes(p)[t.Kind]
	if probe == nil {
		return fmt.Errorf("service %q: no probe of kind %q", service, t.Kind)
	}
	return probe(ctx, t)
}

// Deactivate asks the service's standby agent to return its container to
// the prepared state.
func (d *Steps) Deactivate(ctx context.Context, epoch uint64, service string) error {
	name, ok := d.cfg.Plan().Standbys[service]
	if !ok {
		return fmt.Errorf("service %q: %w", service, executor.ErrUnknownService)
	}
	agent, err := d.cfg.Agents.Agent(name)
	if err != nil {
		return err
	}
	if _, err := agent.Deactivate(ctx, epoch, service); err != nil {
		if errors.Is(err, standby.ErrStaleEpoch) {
			err = fmt.Errorf("%w: %w", recover.ErrPermanent, err)
		}
		return fmt.Errorf("deactivate %q on standby %q: %w", service, name, err)
	}
	if d.cfg.Gate != nil {
		d.cfg.Gate.Freed()
	}
	return nil
}
