// Package monitor is the monitor daemon behind `understudy monitor`: a
// composition of parts, each a subpackage that receives the two or three
// small interfaces it uses and never the Controller:
//
//   - api: the HTTP API's wire types (shared with internal/monitorapi,
//     drill and proxy);
//   - httpapi: the HTTP API (routes, auth, forwarding to the leader, the
//     placement stream);
//   - supervise: probe supervision (the probe engine, monitor/probe, on the
//     plan in force);
//   - steps: the executor's steps (confirm, fence, activate, healthy,
//     deactivate) and the DNS adapter;
//   - prepare: the standby containers prepared under the term's epoch;
//   - moves: the move policy (failback: auto, max-on-standby, overload);
//   - capacity: the agents' load and steal samples;
//   - migrate: the lxd stop-copy-start to a spare;
//   - cluster: the shared etcd, the election, a new cluster's epoch;
//   - conns: the agents' and hypervisors' clients;
//   - plan: everything derived from one inventory;
//   - findings: the failures no leader took yet.
//
// This package holds the Controller that wires them: Run opens the shared
// store (package cluster, or Options.Store), listens, joins the monitors'
// election (package ha), and runs the probe engine on every monitor. While
// this monitor leads (term.go) it takes the epoch, starts the executor
// (recover/executor, which resumes the open incidents from the store), the
// preparer and the move policy; every write is guarded by the leader key,
// so a deposed leader changes nothing. While it follows (forward.go) it
// passes the failures its engine confirmed to the leader as suspect
// reports; the API serves reads from the store and forwards mutating calls
// to the leader. Reload swaps in a new, fully validated inventory (package
// plan); a bad one is refused and the old one stays (Caddy's
// validate-then-swap).
//
// It does not probe (monitor/probe), decide how an incident proceeds
// (recover), talk to Incus (lxd) or DNS (dnsupdate) itself. Options is how
// tests and embedders replace the outside world (store, DNS, agents,
// hypervisors, probes, capacity sources, migrator) with hand-written fakes.
package monitor
