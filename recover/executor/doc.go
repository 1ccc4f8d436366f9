// Package executor performs what the incident core (package recover)
// decides. It owns one goroutine per open incident: it feeds the
// incident's Machine its events (triggers, resets, moves, step results,
// ticks), persists every transition to a store.Store before the action that
// follows it runs, and runs each RunStep through the small interfaces it
// defines (Confirmer, Fencer, Activator, HealthChecker, DNS, DNSVerifier,
// Notifier, Execer; Holder, Migrator, Deactivator for moves). Alerts go to
// the log and, with Config.AlertURL, to a webhook (Webhook).
//
// At most Config.MaxMigrations migrations run at once (ErrBusy past that).
// A store that fences a write (store.ErrFenced) stops the incident's
// goroutine without acting, so a deposed leader cannot act.
//
// The executor does not decide anything itself (the Machine does), and it
// does not know the standby agent's, the DNS client's or the hypervisor's
// APIs: the monitor daemon (package monitor) adapts them to the interfaces
// declared here. The recovery states, steps and restart semantics are
// documented in package recover.
package executor
