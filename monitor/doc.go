// Package monitor is the monitor daemon behind `understudy monitor`: it
// wires the inventory, the probe engine (monitor/probe), the recover executor, the
// standby agents, the hypervisors and DNS together, and serves the HTTP API
// (status, placements stream, suspect/failover/reset, migrate/failback,
// /metrics). For migrations it provides recover's Migrator (an lxd
// stop-copy-start from the standby VM to a spare) and Deactivator, scores
// spares with package spares, and applies the services' automatic move
// policies (max-on-standby, failback: auto) on a ticker.
//
// Run, in order: open the shared store (an embedded etcd under
// monitor.state-dir, the etcd of monitor.etcd, or a member of a peer cluster
// across the monitors with --peers), listen, join the monitors' election
// (package ha), and start the monitor, which probes on every monitor. While
// this monitor leads (term.go) it takes the election revision as its epoch,
// starts the executor (which resumes the open incidents from the store),
// pushes each service's container spec to its standby agent (warm
// containers run, cold ones exist; a service that is not on its primary is
// left alone) and applies the move policies; every write is guarded by the
// leader key, so a deposed leader changes nothing. While it follows
// (forward.go) it passes the failures its monitor confirmed to the leader as
// suspect reports, serves the read API (status, placements) from the store,
// and forwards mutating calls to the leader. Reload swaps in a new, fully
// validated inventory; a bad one is refused and the old one stays (Caddy's
// validate-then-swap).
//
// The package holds only adapters and plumbing: it does not probe (package
// monitor), decide how an incident proceeds (package recover), talk to Incus
// (package lxd) or DNS (package dnsupdate) itself. The small interfaces Agent
// and Hypervisor are what it needs from the standby client and the lxd
// adapter, so tests replace them with hand-written fakes.
package monitor
