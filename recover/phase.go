package recover

// Phase names a moment an incident records (PhaseTime): the API, the
// status table and the drill's report read them, so they are one set of
// constants, written to records as their strings.
type Phase string

// The phases of a failover, in the order a warm failover reaches them.
const (
	PhaseDetected   Phase = "detected"     // the incident opened
	PhaseConfirmed  Phase = "confirmed"    // the standby agent, too, sees the primary down
	PhaseDisagreed  Phase = "disagreed"    // the agent sees the primary alive: the incident ends
	PhaseFenced     Phase = "fenced"       // the primary was frozen or force-stopped: it serves and writes no more
	PhaseActivating Phase = "activating"   // the activate step began
	PhaseActivated  Phase = "activated"    // the standby's container serves
	PhaseHealthy    Phase = "healthy"      // the service answers its check on the new address
	PhaseDNSFlipped Phase = "dns-flipped"  // the DNS compare-and-swap took effect
	PhaseVerified   Phase = "dns-verified" // every dns.verify server answers the new address
	PhaseNotified   Phase = "notified"     // the notify step ran
	PhaseOnStandby  Phase = "on-standby"   // the failover ended on the standby
	// PhaseFenceStop: the background force-stop of a primary the fence
	// froze ended (after the DNS flip; it may come after on-standby).
	PhaseFenceStop Phase = "fence-stop"
)

// The phases of a stuck incident and of an operator's reset.
const (
	PhaseStuck          Phase = "stuck"           // a step failed for good
	PhaseRetried        Phase = "retried"         // an operator ran the stuck step again
	PhaseRearmed        Phase = "re-armed"        // a new finding of the monitor ran it again
	PhaseReset          Phase = "reset"           // an operator's reset began
	PhasePrimaryHealthy Phase = "primary-healthy" // a reset's check of the primary passed
	PhaseDNSReset       Phase = "dns-reset"       // a reset's DNS swap back took effect
	PhaseResetRefused   Phase = "reset-refused"   // the primary failed the reset's check; nothing changed
)

// The phases of migrations and failbacks (see moves.go).
const (
	PhaseRequested    Phase = "requested"     // the move was asked for
	PhaseHeld         Phase = "held"          // the proxies hold the service's new requests
	PhaseCopied       Phase = "copied"        // the container runs on the spare
	PhaseReleased     Phase = "released"      // the proxies released the held requests
	PhaseStandbyReset Phase = "standby-reset" // the standby slot is back to its prepared state
	PhaseCopyUndone   Phase = "copy-undone"   // an aborted migration deleted the spare's copy
	PhaseVacated      Phase = "vacated"       // after a failback, the standby slot or spare copy is vacated
	PhaseDNSReverted  Phase = "dns-reverted"  // an aborted move swapped DNS back
	PhaseDrained      Phase = "drained"       // the drain hook took the service out of its service discovery
	PhaseUndrained    Phase = "undrained"     // the undrain hook put it back
	PhaseAborting     Phase = "aborting"      // a step failed before the DNS swap: the undo steps run
	PhaseAborted      Phase = "aborted"       // the move gave up; the service stayed where it was
	PhaseOnSpare      Phase = "on-spare"      // a migration ended on the spare
	PhaseOnPrimary    Phase = "on-primary"    // a failback or reset ended on the primary
)
