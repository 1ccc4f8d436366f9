// Package lxd is understudy's narrow adapter over the Incus Go client
// (github.com/lxc/incus/v6/client v6.23.0), used against Incus 6 and LXD 5.0.
//
// It offers the few idempotent instance operations the standby agent, the
// monitor and the recovery executor need: ensure, start, stop, freeze, state,
// wait for an address, exec, snapshot and restore, copy or move between
// daemons, and delete. Every call takes a context, waits for the daemon's
// operation with op.WaitContext and cancels the server-side operation (best
// effort) when the context ends.
//
// The package carries the workarounds for the client calls that misbehave
// against LXD 5.0 (see README.md): it never uses exec output recording,
// InstancesPost.Start, trust tokens or GetOperationUUIDs, and it refuses
// stateful or live work unless the caller proved CRIU works (SetStateful).
//
// It does not decide anything: placement, policy, retries and timeouts of the
// whole recovery belong to its callers.
package lxd
