// Package recover runs incidents: when a service's primary fails, it takes
// the service through its recovery playbook to the standby and records where
// the service runs now. It also moves a service on: from the standby to a
// dedicated spare (a migration) and back to its primary (a failback), as
// incidents of their own kind with their own playbooks (moves.go).
//
// This package is the core only: Machine, the deterministic state machine.
// Step(event) returns the actions to run next. It does no I/O and reads no
// clock; every event carries its time (etcd-io/raft's Step and logical
// clock are the model). It imports only package playbooks and the standard
// library. What performs its actions lives beside it:
//
//   - recover/executor owns one goroutine per open incident, runs the
//     actions through small interfaces it defines (Confirmer, Fencer,
//     Activator, HealthChecker, DNS, Notifier, Execer; Holder, Migrator,
//     Deactivator for moves), feeds their results back as events, and
//     persists every transition to a store before the action that follows
//     it runs.
//   - recover/store holds the Store interface, where service records
//     (state, placement, the open or last incident) and the epoch live:
//     Memory for tests, Etcd over clientv3.
//   - recover/embedded starts the single-node etcd a monitor uses by
//     default.
//
// A migration or failback aborts when a step fails before its DNS swap: the
// steps that undo what it started (delete the spare's copy, revert DNS,
// release the proxy) run, and the service stays where it was, serving. Due
// is the pure policy that says when a service should migrate or fail back
// by itself.
//
// recover does not probe services and does not decide that a primary failed
// (package monitor/probe does); it does not know the standby agent's, the
// DNS client's or the hypervisor's APIs: the monitor daemon (package
// monitor) adapts them to the executor's interfaces.
//
// # Restart semantics
//
// A step is recorded as running (with its attempt) in the same write that
// precedes its action, and as done in the write that follows its result. On
// restart the executor loads every open incident and calls Machine.Resume:
// a done step is never run again; a running step is run again only when it is
// idempotent (confirm, wait-healthy, wait, activate, dns-replace, a
// hypervisor fence, any migration or failback step, or a step marked
// `idempotent: true`); any other
// interrupted step leaves the incident stuck with an alert, because its
// outcome is unknown. An operator's manual failover on a stuck incident runs
// the stuck step again; a new finding of the monitor does too, when the
// stuck step may run again.
//
// # Bounds
//
// Nothing an incident keeps grows with what the outside world sends it:
// triggers are counted per source, texts are cut to MaxTextBytes, and every
// record passes a size guard (MaxRecordBytes) before it is saved. Step
// retries back off exponentially, with injected jitter, within a per-step
// budget. A store that fences a write (store.ErrFenced) stops the
// incident's goroutine in the executor without acting.
package recover
