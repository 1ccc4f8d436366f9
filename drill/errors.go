package drill

import "errors"

// Sentinel errors callers branch on.
var (
	// ErrPreflight means the drill refused to start: the service or the
	// machinery around it is not in a state a drill can measure.
	ErrPreflight = errors.New("preflight refused")
	// ErrNotConfirmed means the inventory is not marked `lab: true` and the
	// operator did not confirm with --yes.
	ErrNotConfirmed = errors.New("not a lab inventory: confirm with --yes")
	// ErrLabOnly means the fault runs host commands (iptables, ip link) that
	// are only safe on the lab's own hypervisor.
	ErrLabOnly = errors.New("fault kind is lab-only")
	// ErrUnknownKind means the inject kind is not one of Kinds.
	ErrUnknownKind = errors.New("unknown inject kind")
)
