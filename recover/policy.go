package recover

import (
	"fmt"
	"time"
)

// DefaultHoldDown is how long a primary must have been healthy before an
// automatic failback, when the policy sets no hold-down.
const DefaultHoldDown = 10 * time.Minute

// MovePolicy is a service's automatic migration and failback policy, from
// the inventory (max-on-standby, failback: auto).
type MovePolicy struct {
	// MaxOnStandby migrates the service after this long on the standby;
	// zero never migrates it for time alone.
	MaxOnStandby time.Duration
	// AutoFailback fails the service back once its primary has been healthy
	// for HoldDown (failback: auto); false leaves failback to an operator.
	AutoFailback bool
	// HoldDown is the hysteresis against a flapping primary (default
	// DefaultHoldDown).
	HoldDown time.Duration
}

// Facts are what the caller observed about a service that recover cannot
// see itself. The monitor and the standby's overload detector (package
// placement) provide them.
type Facts struct {
	// PrimaryHealthySince is when the primary's service check last started
	// passing without a failure since; zero when it fails or is unknown.
	PrimaryHealthySince time.Time
	// Overloaded says the standby VM the service runs on is overloaded
	// (steal and load both high for a while), with why.
	Overloaded     bool
	OverloadReason string
}

// Decision is what Due advises for one service: Kind is KindMigrate,
// KindFailback, or empty for nothing to do.
type Decision struct {
	Kind   string
	Reason string
}

// Due decides, without side effects, whether a service should migrate or
// fail back now. A failback (the service's way home) wins over a
// migration; nothing is due while an incident is open. The caller sends the
// matching Migrate (choosing the spare) or Failback with Source FromPolicy.
func Due(rec Record, p MovePolicy, f Facts, now time.Time) Decision {
	if rec.Incident.Open() {
		return Decision{}
	}
	if rec.State != OnStandby && rec.State != OnSpare {
		return Decision{}
	}
	if p.AutoFailback && !f.PrimaryHealthySince.IsZero() {
		hold := p.HoldDown
		if hold <= 0 {
			hold = DefaultHoldDown
		}
		since := f.PrimaryHealthySince
		if since.Before(rec.Placement.Since) {
			since = rec.Placement.Since // healthy from before the move counts from the move
		}
		if healthy := now.Sub(since); healthy >= hold {
			return Decision{Kind: KindFailback, Reason: fmt.Sprintf("primary healthy for %s (hold-down %s)", healthy.Round(time.Second), hold)}
		}
	}
	if rec.State != OnStandby {
		return Decision{}
	}
	if f.Overloaded {
		return Decision{Kind: KindMigrate, Reason: "standby overloaded: " + f.OverloadReason}
	}
	if p.MaxOnStandby > 0 {
		if on := now.Sub(rec.Placement.Since); on >= p.MaxOnStandby {
			return Decision{Kind: KindMigrate, Reason: fmt.Sprintf("on the standby for %s (max-on-standby %s)", on.Round(time.Second), p.MaxOnStandby)}
		}
	}
	return Decision{}
}
