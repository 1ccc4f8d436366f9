// Package drill injects a real failure into a protected service, watches the
// recovery from the outside the way clients see it, and reports every phase.
//
// A drill runs in this order: a preflight (the service answers on its
// primary, the standby agent is ready, DNS points at the primary, the monitor
// runs and holds the service on its primary), a bounded load generator that
// asks the authoritative DNS server and the proxy for the service, the
// injection of one Fault, a watch of the monitor's incident until every
// client path is served by the new backend (or a time bound), the removal of
// the fault (always: on success, on error and when ctx ends), and optionally
// a return to their primaries of every service the fault touched (for a
// host-down, the neighbours on the same hypervisor too). The Result carries
// the phase times in milliseconds from the injection, the requests per path,
// every failed request labelled with when and why it failed, and a verdict; it
// renders (package drill/report) as a text report with an ASCII timeline,
// as JSON and as an SVG chart, and is appended to a history file whose
// trend flags regressions. Analyze turns what a run recorded (a Timeline)
// into the Result.
//
// The package does not decide or perform recovery (the monitor does), does
// not know how to reach Incus, DNS or the agent beyond the small interfaces it
// defines (Hypervisor, Runner, Resolver, Monitor, Agent), and never injects a
// fault that only the lab may take (blackhole, host-down) into an inventory
// that is not marked `lab: true`.
package drill
