// Package ha lets several monitors share one etcd so that exactly one of
// them acts: leader election, the fencing epoch, and a store whose writes a
// deposed leader cannot make.
//
//   - Elector campaigns for leadership with a session lease
//     (go.etcd.io/etcd/client/v3/concurrency): Campaign blocks until this
//     monitor leads and returns its Leadership. The leader key's
//     CreateRevision (Leadership.Rev) is the fencing epoch: it grows with
//     every new leader. Leadership.Done closes when the lease is lost
//     (within the session TTL when etcd is unreachable), on Resign, when the
//     leader key disappears, or when a guarded write was refused.
//   - Store wraps store.Etcd so that every write is one transaction
//     guarded by Compare(CreateRevision(leaderKey), "=", rev): a deposed
//     leader's Save and NextEpoch fail with ErrNotLeader (which also matches
//     store.ErrFenced) and change nothing.
//   - StartPeers runs one member of a static embedded etcd cluster across
//     the monitors, for sites without an etcd of their own.
//
// ha does not decide what a follower does (probe, serve reads, forward), and
// it does not start or stop the executor.Executor: the caller runs the
// executor under Leadership.Context, so it stops when leadership ends. The
// DNS compare-and-swap and the agents' epoch check remain the last lines of
// defence for an action already in flight when leadership ends.
package ha
