package executor

import (
	"context"
	"net/netip"
	"slices"
	"time"

	"github.com/understudy/understudy/recover"
)

// The interfaces the executor runs steps through. Each is defined here, by
// its consumer; the monitor daemon (package monitor) adapts the standby
// client, the DNS client and the hypervisor adapter to them.
// Implementations must be safe for concurrent use (incidents of different
// services run in parallel) and must honour ctx: its deadline is the step
// attempt's timeout.

// Confirmer asks the standby agent whether it, too, sees the primary down
// (POST /v1/probe from the standby VM).
type Confirmer interface {
	// ConfirmDown reports down=true when the agent cannot reach svc's
	// primary, with what it saw in detail.
	ConfirmDown(ctx context.Context, svc recover.Service) (down bool, detail string, err error)
}

// Fencer fences a primary instance through its hypervisor's API: it
// freezes it (fence-method freeze: a frozen instance neither serves nor
// writes) or force-stops it. Stopping a stopped instance must succeed, and
// so must freezing a frozen or stopped one (the step is re-run after a
// restart; a primary that died is fenced already).
type Fencer interface {
	Freeze(ctx context.Context, hypervisor, instance string) error
	ForceStop(ctx context.Context, hypervisor, instance string) error
}

// Activation is what the standby agent reports after activating a service.
type Activation struct {
	Address  netip.Addr
	Restored bool
	Fallback string // why a restore fell back to a cold start
	Phases   []recover.AgentPhase
}

// Activator asks the standby agent to activate a service's container. The
// agent coalesces repeated calls and refuses stale epochs; adapters wrap
// errors retrying cannot fix (stale epoch, no capacity) with ErrPermanent.
type Activator interface {
	Activate(ctx context.Context, epoch uint64, service string) (Activation, error)
}

// HealthChecker runs a service's check once against an address.
type HealthChecker interface {
	Check(ctx context.Context, service string, addr netip.Addr) error
}

// DNS changes and reads a service's record at its authoritative server.
type DNS interface {
	// Replace sets name's addresses to addrs only if it still holds expect;
	// otherwise it changes nothing and returns an error wrapping
	// ErrPrecondition.
	Replace(ctx context.Context, name string, addrs, expect []netip.Addr) error
	// Lookup returns name's addresses as the authoritative server has them.
	Lookup(ctx context.Context, name string) ([]netip.Addr, error)
}

// DNSVerifier waits until the servers clients ask (the inventory's
// dns.verify: typically the zone's secondaries) answer a name's new
// addresses. It must return by ctx's deadline.
type DNSVerifier interface {
	// VerifyDNS waits until each server answers exactly want for name, or
	// ctx ends, and returns one result per server. An empty result means
	// there is nothing to verify.
	VerifyDNS(ctx context.Context, name string, want []netip.Addr) []DNSServerResult
}

// DNSServerResult is how one dns.verify server fared.
type DNSServerResult struct {
	Server string        // "host:port"
	Took   time.Duration // until it answered the new set
	Err    error         // why it did not in time; nil when it did
}

// Notification is the JSON body of a notify step's webhook POST and of alerts.
type Notification struct {
	Event    string            `json:"event"`           // "incident" (notify step) or "alert"
	Alert    string            `json:"alert,omitempty"` // an alert's kind: stuck, unfenced, unprotected, move
	Service  string            `json:"service"`
	Reason   string            `json:"reason,omitempty"`
	Incident *recover.Incident `json:"incident,omitempty"`
	Key      string            `json:"key"` // sent as the Idempotency-Key header too: receivers deduplicate on it
}

// withoutURLs returns a copy of inc fit to leave the monitor: the webhook
// URLs of its playbook may carry tokens, so they are blanked.
func withoutURLs(inc *recover.Incident) *recover.Incident {
	if inc == nil || inc.Playbook == nil {
		return inc
	}
	c, pb := *inc, *inc.Playbook
	pb.Steps = slices.Clone(pb.Steps)
	for i := range pb.Steps {
		if pb.Steps[i].URL != "" {
			pb.Steps[i].URL = "(redacted)"
		}
	}
	c.Playbook = &pb
	return &c
}

// Notifier POSTs a notification to a webhook URL.
type Notifier interface {
	Notify(ctx context.Context, url string, n Notification) error
}

// Execer runs an operator command (argv, no shell) with extra environment
// variables; a non-zero exit is an error.
type Execer interface {
	Exec(ctx context.Context, argv, env []string) error
}

// Deps bundles the executor's step implementations.
type Deps struct {
	Confirmer Confirmer
	Fencer    Fencer
	Activator Activator
	Health    HealthChecker
	DNS       DNS
	// DNSVerify, when set, makes dns-replace wait after its swap until the
	// dns.verify servers answer the new address (the dns-verified phase).
	DNSVerify DNSVerifier
	Notifier  Notifier
	Execer    Execer

	// For migrations and failbacks (see movedeps.go). Holder may be nil
	// when no proxy runs: hold and release then do nothing.
	Holder      Holder
	Migrator    Migrator
	Deactivator Deactivator
}
