package probe

import (
	"context"
	"time"
)

// EventKind says what an Event reports.
type EventKind int

// The event kinds. The failure kinds (ServiceDown, VMDown, HostDown) are
// emitted only when confirmed (or when no confirmation is asked for); the
// others are recorded and never call for a failover.
const (
	_ EventKind = iota
	// ServiceDown: the service fails its check while its VM answers (an
	// application failure).
	ServiceDown
	// VMDown: the VM fails while its hypervisor is up; covers its services.
	VMDown
	// HostDown: the hypervisor fails and so does at least one of its VMs;
	// one event covers all its VMs and services.
	HostDown
	// Isolated: every hypervisor and VM is down from here, and the standby
	// agent does not confirm it: the monitor is cut off, nothing fails over.
	Isolated
	// Recovered: what an earlier event (Of) reported is healthy again.
	Recovered
	// Disagreement: the monitor saw a failure (Of) that the standby agent
	// does not see; recorded, no failover. The monitor asks again later.
	Disagreement
	// Degraded: a hypervisor or VM fails its probes while what runs on it
	// still answers (e.g. the hypervisor API is down but its VMs run).
	Degraded
)

var kindNames = map[EventKind]string{
	ServiceDown: "service-down", VMDown: "vm-down", HostDown: "host-down", Isolated: "isolated",
	Recovered: "recovered", Disagreement: "disagreement", Degraded: "degraded",
}

// String returns the kind's name as used in logs and metrics.
func (k EventKind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return "unknown"
}

// IsFailure reports whether the kind calls for recovery.
func (k EventKind) IsFailure() bool { return k == ServiceDown || k == VMDown || k == HostDown }

// Event is what the monitor reports.
type Event struct {
	Kind EventKind
	// Of is, for Recovered and Disagreement, the kind of finding it is about.
	Of EventKind
	// Services are the protected services affected, sorted.
	Services []string
	// VMs are the primary VMs affected, sorted.
	VMs []string
	// Hypervisor is set for HostDown, for a hypervisor's Degraded, and for
	// the findings of one hypervisor's VMs that the settle window merged
	// into one event (a VMDown of several VMs).
	Hypervisor string
	// Reason says what was seen, from the probes' errors and the agent.
	Reason string
	// At is when the monitor decided.
	At time.Time
}

// Sink receives events. Emit is called from the monitor's single
// evaluation goroutine, in order; it should return quickly and must return
// when ctx ends.
type Sink interface {
	Emit(ctx context.Context, e Event)
}

// ChanSink is a Sink that sends every event on the channel; it blocks until
// the event is received or ctx ends.
type ChanSink chan Event

// Emit sends e on the channel.
func (c ChanSink) Emit(ctx context.Context, e Event) {
	select {
	case c <- e:
	case <-ctx.Done():
	}
}
