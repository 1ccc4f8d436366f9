// Package standby is the standby agent that runs inside the shared standby VM
// next to Incus/LXD, and the HTTP client the monitor uses to talk to it.
//
// The agent keeps each protected service's container prepared (warm: running,
// cold: created and stopped, restore: checkpoint present), activates it on
// request (start, already running, or restore with a cold-start fallback),
// waits until it has an address and its port accepts connections, and reports
// the time of every phase. It coalesces concurrent activations of one service,
// bounds parallel activations of different services, refuses work that does
// not fit the VM's capacity before starting anything, and refuses requests
// carrying an epoch lower than the highest it has seen (fencing against a
// stale monitor). While several services are active it divides the VM's CPU
// and memory among their containers by priority (fairshare.go, computed by
// standby/fairshare). It also
// probes addresses (ICMP, TCP, HTTP) as the monitor's second vantage point,
// with monitor/probe's probe functions and internal/icmp's raw socket.
//
// It does not decide when to fail over, talk DNS, or migrate containers: the
// monitor and recover packages do. It reaches Incus/LXD only through the small
// Runtime interface, implemented by the lxd package.
package standby

import (
	"errors"

	"github.com/understudy/understudy/lxd"
	"github.com/understudy/understudy/standby/api"
	"github.com/understudy/understudy/standby/epoch"
)

// Errors callers branch on. The server maps each to an HTTP status and an
// error code in the JSON body; the client maps them back, so errors.Is works
// across the wire.
var (
	// ErrStaleEpoch: the request's epoch is lower than the highest seen (409).
	ErrStaleEpoch = epoch.ErrStale
	// ErrNoCapacity: the standby VM lacks free slots or memory (507).
	ErrNoCapacity = errors.New("no capacity")
	// ErrNotFound: the service is not known to the agent (404).
	ErrNotFound = errors.New("service not found")
	// ErrInvalid: the request is malformed or the spec is invalid (400).
	ErrInvalid = api.ErrInvalid
	// ErrNotReady: the agent is still starting up (503).
	ErrNotReady = errors.New("agent not ready")
	// ErrDataDiskMissing: the service's data disk source does not exist on
	// the standby host (422).
	ErrDataDiskMissing = errors.New("data disk missing")
	// ErrForbidden: the client certificate is not a monitor's, and only
	// monitors may prepare, activate, deactivate or delete (403).
	ErrForbidden = errors.New("not a monitor certificate")
	// ErrNotServing: a warm service's container runs but its port did not
	// accept a connection within activate-timeout (502). The container is
	// kept running, so a later prepare checks it again.
	ErrNotServing = errors.New("warm container not serving")
	// ErrSwapping: the service's container is missing because a
	// whole-instance sync's swap is between its renames (its aside
	// instance exists); nothing was created, and a prepare a moment later
	// finds the container back (409).
	ErrSwapping = lxd.ErrSwapping
)
