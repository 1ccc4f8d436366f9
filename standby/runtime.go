package standby

import (
	"context"
	"net/netip"
	"time"

	"github.com/understudy/understudy/lxd"
)

// InstanceSpec describes the container of a service, as the runtime creates it.
type InstanceSpec = lxd.InstanceSpec

// InstanceState is what the runtime reports about a container.
type InstanceState = lxd.State

// errInstanceNotFound is what Runtime.State returns for a missing container.
var errInstanceNotFound = lxd.ErrNotFound

// Runtime is the part of Incus/LXD the agent uses. Every call is idempotent
// where the name says so (Ensure, Start of a running container, Stop of a
// stopped one) and safe for concurrent use on different instances.
type Runtime interface {
	// Ensure creates the instance from spec if it does not exist.
	Ensure(ctx context.Context, spec InstanceSpec) (created bool, err error)
	// Start starts the instance; starting a running instance is not an error.
	Start(ctx context.Context, name string) error
	// Stop stops the instance, gracefully within timeout, or forced when timeout is 0.
	Stop(ctx context.Context, name string, timeout time.Duration) error
	// State reports the instance's state; errInstanceNotFound when it does not exist.
	State(ctx context.Context, name string) (InstanceState, error)
	// Statuses reports every instance's status (no addresses) in one
	// request, by name: the listing of many services reads it instead of
	// one State each.
	Statuses(ctx context.Context) (map[string]InstanceState, error)
	// WaitIPv4 waits until the instance's nic has an IPv4 address.
	WaitIPv4(ctx context.Context, name, nic string) (netip.Addr, error)
	// Delete removes the instance (stopping it first); a missing one is not an error.
	Delete(ctx context.Context, name string) error
}

// Checkpointer is implemented by runtimes that can snapshot and restore
// instances. Restore mode uses it; stateful calls are made only when the
// CRIU probe proved CRIU works, and the agent says so with SetStateful (the
// lxd adapter refuses stateful work until then). SetStateful is part of the
// interface so that a wrapper of the runtime cannot silently drop it.
type Checkpointer interface {
	Snapshot(ctx context.Context, name, snap string, stateful bool) error
	Restore(ctx context.Context, name, snap string, stateful bool) error
	// SetStateful enables (after a successful CRIU probe) or disables stateful snapshots and restores.
	SetStateful(ok bool)
	// StatefulConfig is the instance config the daemon needs before it
	// checkpoints a container (Incus: migration.stateful; LXD 5.0 has no
	// such key and refuses it).
	StatefulConfig(ctx context.Context) (map[string]string, error)
}
