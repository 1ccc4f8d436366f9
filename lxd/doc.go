// Package lxd is understudy's narrow adapter over the Incus Go client
// (github.com/lxc/incus/v6/client v6.23.0). It speaks to Incus 6 first and to
// LXD 5.0 for compatibility.
//
// It offers the few idempotent instance operations the standby agent, the
// monitor and the recovery executor need: ensure, start, stop, freeze, state,
// wait for an address, exec, snapshot and restore, copy or move between
// daemons, and delete. Every call takes a context, waits for the daemon's
// operation with op.WaitContext and cancels the server-side operation (best
// effort) when the context ends.
//
// Connect asks the daemon who it is (GetServer) and applies the workarounds
// for LXD 5.0 only there (quirks.go, README.md). On both it never uses exec
// output recording, InstancesPost.Start, trust tokens or GetOperationUUIDs,
// and it refuses stateful or live work unless the caller proved CRIU works
// (SetStateful).
//
// It does not decide anything: placement, policy, retries and timeouts of the
// whole recovery belong to its callers.
package lxd
