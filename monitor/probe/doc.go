// Package probe is the monitor's probe engine: it watches the primaries and
// says what failed.
//
// It probes every hypervisor, primary VM and service of a Plan on its own
// schedule (interval, timeout, consecutive fails/passes), turns the up/down
// views into findings with Classify (a service, a VM, a whole hypervisor, or
// the monitor itself being cut off), asks the standby agent to confirm a
// failure from its vantage point (the failures of one hypervisor's VMs that
// arrive within a settle window in one round, settle.go), and emits Events
// to a Sink.
//
// Every probe kind is one ProbeFunc with the same signature, dispatched from
// the map Probers returns; the caller owns the deadline (ctx), the timing and
// the metrics, the probe only probes and returns an error that says why it
// failed. README.md lists the kinds, their inputs and failure reasons, and
// every metric.
//
// The package does not decide or perform recovery (the incident core,
// package recover, decides, fed by the daemon with the events, and
// recover/executor performs) and does not import recover; it talks to the
// hypervisor API and the standby agent only through the small interfaces
// defined here (InstanceStater, APIChecker, Confirmer), which
// monitor/supervise adapts.
package probe
