// Package contentsync is the part of the monitor daemon that keeps each
// service's standby container as fresh as its primary (services[].sync):
// on a schedule it copies the service's paths from the primary instance
// into the standby container, incrementally, and records the age of the
// last good copy, the service's recovery point (RPO).
//
// The copy (tree.go) reads and writes through two FS values: for the
// incus method, SFTP sessions opened through each side's hypervisor API
// (lxd.Files), so a stopped (cold) container is written without starting
// it. Only what changed since the last sync moves: a file whose size,
// modification time (to the second), mode and owner match the standby's
// copy is hard-linked from it; any other file is read from the primary,
// through the migration's bandwidth cap. Each path is built beside the
// live copy (a staging directory) and swapped in by two renames at the
// end, so a sync that fails or is cancelled leaves the last good copy as
// it was; a cancel once the swap began lets the swap finish (the standby's
// session outlives the sync's context until then, swapTimeout at most),
// and Runner.Stop waits until the cancelled sync returned.
//
// A whole-instance sync (sync.whole-instance, cold services; instance.go)
// copies the primary instance instead: through Instances, a refresh
// (lxd.Client.RefreshStaging) into a staging instance on the standby VM
// that nothing starts, then, inside the guarded swap window with the gate
// asked again, lxd.Client.Swap puts it in the stopped standby container's
// place. A failed or cancelled refresh has written only the staging copy.
//
// The staging copies of whole-instance syncs that left the inventory
// are removed from the standby VMs (staging.go, Config.Stagings): only
// instances named and marked as staging copies (lxd.StagingOfKey), at
// the start of a term and after each change of the whole-instance
// targets.
//
// Every read from a primary draws on one bandwidth cap that the
// migrations share (Config.Limiter, migration.bandwidth); method rsync's
// ssh connects through a loopback relay whose bytes draw on it
// (rsyncrelay.go).
//
// The schedule (runner.go) asks the daemon through Gate before it reads
// from a primary or writes into a standby, and before the swap: never from
// a primary that is suspect, failing over or fenced, never into a standby
// that serves. It takes one of the migrations' slots (migration.max-parallel)
// for the duration of each sync.
package contentsync
