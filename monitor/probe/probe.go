package probe

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"time"
)

// ProbeFunc probes one target once. It returns nil when the target is
// healthy and otherwise an error that says why not. The deadline comes from
// ctx; the caller owns timing, metrics and hysteresis.
type ProbeFunc func(ctx context.Context, t Target) error

// Errors probes wrap, for callers that branch on the cause.
var (
	// ErrUnexpectedStatus: an HTTP service answered with a status other
	// than the expected one, i.e. it is reachable but unhealthy.
	ErrUnexpectedStatus = errors.New("unexpected HTTP status")
	// ErrNotRunning: the hypervisor says the instance is not running.
	ErrNotRunning = errors.New("instance is not running")
	// ErrNotConfigured: the probe lacks a dependency (no pinger, no API
	// client for the hypervisor).
	ErrNotConfigured = errors.New("not configured")
)

// Pinger sends one ICMP echo; *icmp.Pinger of internal/icmp satisfies it.
type Pinger interface {
	Ping(ctx context.Context, addr netip.Addr) (time.Duration, error)
}

// InstanceStater reads an instance's state from its hypervisor. running is
// true only for an instance that runs and is not frozen.
type InstanceStater interface {
	State(ctx context.Context, instance string) (running bool, err error)
}

// APIChecker tells whether a hypervisor's API answers at all.
type APIChecker interface {
	CheckAPI(ctx context.Context) error
}

// Hypervisor is what the monitor needs from a hypervisor's API.
type Hypervisor interface {
	InstanceStater
	APIChecker
}

// HypervisorFuncs adapts two functions to Hypervisor, so the wiring can wrap
// an lxd client in a few lines.
type HypervisorFuncs struct {
	StateFunc    func(ctx context.Context, instance string) (bool, error)
	CheckAPIFunc func(ctx context.Context) error
}

// State calls StateFunc.
func (h HypervisorFuncs) State(ctx context.Context, instance string) (bool, error) {
	return h.StateFunc(ctx, instance)
}

// CheckAPI calls CheckAPIFunc.
func (h HypervisorFuncs) CheckAPI(ctx context.Context) error { return h.CheckAPIFunc(ctx) }

var _ Hypervisor = HypervisorFuncs{}

// Deps are what the probes talk through.
type Deps struct {
	// Pinger sends ICMP echoes (icmp and hypervisor probes).
	Pinger Pinger
	// Hypervisors maps a hypervisor name to its API (instance and
	// hypervisor probes).
	Hypervisors map[string]Hypervisor
	// Transport, when set, replaces the HTTP transport of http and https
	// probes (tests); the default keeps no idle connection.
	Transport http.RoundTripper
}

// Probers returns the probe of every kind, bound to deps.
func Probers(deps Deps) map[Kind]ProbeFunc {
	p := &probers{deps: deps}
	return map[Kind]ProbeFunc{
		KindICMP:       p.icmp,
		KindTCP:        probeTCP,
		KindHTTP:       p.http,
		KindHTTPS:      p.http,
		KindInstance:   p.instance,
		KindHypervisor: p.hypervisor,
	}
}

type probers struct {
	deps Deps
}
