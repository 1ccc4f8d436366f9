package executor

import (
	"context"
	"net/netip"

	"github.com/understudy/understudy/recover"
)

// The interfaces migrations and failbacks run through, defined here by
// their consumer like those in deps.go. The monitor daemon (package
// monitor) adapts the proxy, the lxd adapter and the standby client to
// them. The same contracts apply: safe for concurrent use, ctx bounds each
// call. Every call must be idempotent, because a restart re-runs an
// interrupted step.

// Holder asks the proxy to hold a service's new requests while it moves
// (they wait instead of failing) and to release them to the placement that
// is current by then. Holding a held service and releasing a released one
// succeed.
type Holder interface {
	Hold(ctx context.Context, service string) error
	Release(ctx context.Context, service string) error
}

// Migrator moves a service's container between Incus/LXD hosts.
type Migrator interface {
	// Copy stops svc's container on the standby VM from, copies it to the
	// spare to and starts it there (live only where CRIU was proven to
	// work; a bandwidth cap, if any, is the adapter's), and returns its
	// address on the spare. The standby's container may run again
	// afterwards: reset-standby returns the slot to its prepared state once
	// DNS moved. When the copy already runs on to, Copy returns its
	// address. On failure it leaves no copy behind if it can.
	Copy(ctx context.Context, svc recover.Service, from, to string) (netip.Addr, error)
	// DeleteCopy removes svc's container from the spare on; a missing one
	// is not an error.
	DeleteCopy(ctx context.Context, svc recover.Service, on string) error
}

// NotedMigrator is a Migrator that also says how a copy was made (live or
// stop-copy-start, and why); the copy step's note in the incident keeps it.
type NotedMigrator interface {
	Migrator
	CopyNoted(ctx context.Context, svc recover.Service, from, to string) (netip.Addr, string, error)
}

// Deactivator asks the standby agent to return a service's slot to its
// prepared state (POST /v1/services/{name}/deactivate: warm keeps running,
// cold and restore stop). It carries the epoch like Activate.
type Deactivator interface {
	Deactivate(ctx context.Context, epoch uint64, service string) error
}
