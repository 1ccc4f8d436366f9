package recover

import (
	"net/netip"
	"time"

	"github.com/understudy/understudy/playbooks"
)

// Service is what recover needs to know about one protected service. The
// wiring fills it from the inventory.
type Service struct {
	Name         string
	FQDN         string     // the DNS name flipped by dns-replace
	VM           string     // the primary VM's name
	Hypervisor   string     // the primary VM's hypervisor, for a hypervisor fence
	Instance     string     // the primary's instance name on that hypervisor
	Address      netip.Addr // the primary's address
	Standby      string     // the standby VM serving it on failover
	Mode         string     // warm, cold or restore
	Confirm      string     // agent or none
	Fence        string     // hypervisor, command or none
	FenceCommand []string   // argv for fence: command
	// FenceMethod is how a hypervisor fence stops the primary: FenceFreeze
	// (freeze it, force-stop it in the background after the DNS flip) or
	// FenceStop (force-stop it within the fence step). Empty is FenceStop,
	// the method of configurations from before the freeze.
	FenceMethod   string
	FenceRequired bool // stop rather than risk two live copies
}

// Values of Service.FenceMethod.
const (
	FenceFreeze = "freeze"
	FenceStop   = "stop"
)

// Source says where a trigger came from.
type Source string

// Trigger sources.
const (
	FromMonitor Source = "monitor" // probes crossed the fails threshold
	FromProxy   Source = "proxy"   // fast-path suspect report
	FromCLI     Source = "cli"     // manual failover; skips confirm
	FromPolicy  Source = "policy"  // an automatic migration or failback (see Due)
)

// Where a service runs.
const (
	AtPrimary = "primary"
	AtStandby = "standby"
	AtSpare   = "spare"
)

// Placement is where a service runs now.
type Placement struct {
	Service string     `json:"service"`
	Where   string     `json:"where"` // AtPrimary, AtStandby or AtSpare
	Host    string     `json:"host"`  // the VM: primary, standby or spare name
	Address netip.Addr `json:"address"`
	Since   time.Time  `json:"since"`
	Epoch   uint64     `json:"epoch"`
	// Held asks every proxy to hold the service's new requests (they wait
	// instead of going to Address) until a placement without it arrives;
	// requests already sent finish. A migration or failback sets it once its
	// hold step is done and clears it with its release step; an incident
	// that ends or sticks always clears it, so no service stays held.
	Held bool `json:"held,omitempty"`
	// FailingOver asks every proxy to hold the service's new requests while
	// its failover runs, from the confirmed failure (the first step after
	// confirm) until the DNS flip places it on the standby; they then go
	// to the new Address. An incident that sticks or ends clears it (see
	// failover_hold.go).
	FailingOver bool `json:"failing_over,omitempty"`
	// Unavailable says why the service is served nowhere: its failover
	// stuck before the DNS flip, once its primary was fenced or the
	// standby refused it for capacity ("unprotected: no capacity (...)").
	// Proxies answer 503 with it at once instead of holding. A re-armed or
	// retried failover, the reset's passed primary check, and the end of
	// the incident clear it.
	Unavailable string `json:"unavailable,omitempty"`
}

// StepStatus is the progress of one playbook step in an incident.
type StepStatus string

// Step statuses. A step is pending, then running (with backoff between
// attempts), then done, skipped or failed.
const (
	StatusPending StepStatus = "pending"
	StatusRunning StepStatus = "running"
	StatusBackoff StepStatus = "backoff"
	StatusDone    StepStatus = "done"
	StatusSkipped StepStatus = "skipped"
	StatusFailed  StepStatus = "failed"
)

// StepRecord is the progress of one step.
type StepRecord struct {
	Kind     playbooks.Kind `json:"kind"`
	Status   StepStatus     `json:"status"`
	Attempt  int            `json:"attempt,omitempty"` // the current or last attempt, from 1
	Started  time.Time      `json:"started,omitzero"`  // first attempt
	Deadline time.Time      `json:"deadline,omitzero"` // of the running attempt
	RetryAt  time.Time      `json:"retry_at,omitzero"` // when in backoff
	Finished time.Time      `json:"finished,omitzero"`
	Error    string         `json:"error,omitempty"` // last attempt's error
	Note     string         `json:"note,omitempty"`  // why skipped, what was found
	// Unprotected is the reason the last attempt was refused for the
	// standby's capacity (StepFailed.Unprotected); empty otherwise.
	Unprotected string `json:"unprotected,omitempty"`
}

// PhaseTime is the moment an incident reached a phase (the Phase constants).
type PhaseTime struct {
	Phase Phase     `json:"phase"`
	At    time.Time `json:"at"`
}

// AgentPhase is one phase of the agent's activation, as it reported it.
type AgentPhase struct {
	Name string `json:"name"`
	MS   int64  `json:"ms"`
}

// TriggerRecord is what an incident keeps of the triggers from one source
// that opened or joined it: the first one's reason (cut to MaxTextBytes) and
// time, how many came, and when the last one came. An incident keeps one
// record per source, so a storm of reports cannot grow it.
type TriggerRecord struct {
	Source     Source    `json:"source"`
	Reason     string    `json:"reason"`
	At         time.Time `json:"at"`
	Count      int       `json:"count,omitempty"`       // triggers from this source; 0 in records written before counting means 1
	Last       time.Time `json:"last,omitzero"`         // the latest one, when Count > 1
	LastReason string    `json:"last_reason,omitempty"` // its reason, cut to MaxTextBytes
}

// ResetRun is an operator's reset running on an incident: the steps from
// First on are the reset's (DefaultResetPlaybook). On a stuck incident it
// keeps what the incident was stuck on, restored when the reset is refused.
type ResetRun struct {
	Reason  string     `json:"reason"`
	First   int        `json:"first"`  // index of the reset's first step
	From    netip.Addr `json:"from"`   // the address DNS may hold, swapped back to the primary's
	Origin  Placement  `json:"origin"` // where the service ran when the reset began (vacate)
	Stuck   string     `json:"stuck,omitempty"`
	StuckIn State      `json:"stuck_in,omitempty"`
	Current int        `json:"current,omitempty"`
}

// Incident results.
const (
	ResultRecovered    = "recovered"    // on the standby
	ResultDisagreement = "disagreement" // the agent saw the primary alive
	ResultReset        = "reset"        // an operator ended it
	ResultMigrated     = "migrated"     // a migration ended on the spare
	ResultFailedBack   = "failed-back"  // a failback ended on the primary
	ResultAborted      = "aborted"      // a migration, failback or reset gave up before DNS moved; the service stayed where it was
)

// Incident kinds. The zero value is a failover, so records written before
// migrations existed read as failovers.
const (
	KindFailover = ""         // primary -> standby
	KindMigrate  = "migrate"  // standby -> spare
	KindFailback = "failback" // standby or spare -> primary
	KindReset    = "reset"    // an operator's reset: standby or spare -> primary, checked first (DefaultResetPlaybook)
)

// Incident is one recovery of one service.
type Incident struct {
	ID        string              `json:"id"`
	Service   string              `json:"service"`
	Opened    time.Time           `json:"opened"`
	Closed    time.Time           `json:"closed,omitzero"`
	Result    string              `json:"result,omitempty"`
	Triggers  []TriggerRecord     `json:"triggers"`
	Playbook  *playbooks.Playbook `json:"playbook"`
	Steps     []StepRecord        `json:"steps"`
	Current   int                 `json:"current"` // index of the step in progress; len(Steps) when all ran
	Phases    []PhaseTime         `json:"phases"`
	From      netip.Addr          `json:"from"`        // the address clients were sent to
	To        netip.Addr          `json:"to,omitzero"` // the standby's address, once activated
	Restored  bool                `json:"restored,omitempty"`
	Fallback  string              `json:"fallback,omitempty"` // why a restore fell back to a cold start
	Agent     []AgentPhase        `json:"agent_phases,omitempty"`
	LastError string              `json:"last_error,omitempty"`
	Attempts  int                 `json:"attempts"`        // step attempts, all steps together
	Stuck     string              `json:"stuck,omitempty"` // why it stopped, while stuck
	StuckIn   State               `json:"stuck_in,omitempty"`
	Disagreed string              `json:"disagreed,omitempty"` // what the agent saw
	// Frozen says the fence froze the primary (Service.FenceMethod freeze):
	// it is force-stopped in the background once DNS points at the new
	// address (the StopFenced action), which records PhaseFenceStop, or
	// FenceStopFailed and a warning when the stop failed.
	Frozen bool `json:"frozen,omitempty"`
	// FenceStopFailed says the background force-stop of the frozen primary
	// failed (the warning says why): it is no longer pending.
	FenceStopFailed bool `json:"fence_stop_failed,omitempty"`
	// Warnings are problems that did not stop the incident, e.g. a
	// dns.verify server that never answered the new address.
	Warnings []string `json:"warnings,omitempty"`

	// Kind is KindFailover (empty), KindMigrate or KindFailback.
	Kind string `json:"kind,omitempty"`
	// Target is the spare a migration moves to.
	Target string `json:"target,omitempty"`
	// Origin is where the service ran when a migration or failback began;
	// an aborted move leaves it there.
	Origin *Placement `json:"origin,omitempty"`
	// Aborted says why a migration or failback gave up, once it did; the
	// steps appended after that undo what the move had started.
	Aborted string `json:"aborted,omitempty"`
	// Reset is the operator's reset running on (or that ended) this
	// incident; ResetRefused says why the last reset was refused (the
	// primary failed its check), in which case nothing was changed.
	Reset        *ResetRun `json:"reset,omitempty"`
	ResetRefused string    `json:"reset_refused,omitempty"`
	// Copy is the recovery point: how old the standby's copy of the
	// service's content was when the incident opened (services[].sync);
	// nil for a service without sync.
	Copy *CopyAge `json:"copy,omitempty"`
}

// Open reports whether the incident is still running (or stuck).
func (i *Incident) Open() bool { return i != nil && i.Closed.IsZero() }

// Phase returns when the incident reached phase, if it did.
func (i *Incident) Phase(phase Phase) (time.Time, bool) {
	for _, p := range i.Phases {
		if p.Phase == phase {
			return p.At, true
		}
	}
	return time.Time{}, false
}

// Record is everything recover persists about one service.
type Record struct {
	Service     string      `json:"service"`
	State       State       `json:"state"`
	Placement   Placement   `json:"placement"`
	Incident    *Incident   `json:"incident,omitempty"` // the open one, or the last
	Seq         int         `json:"seq"`                // incidents opened so far
	Moves       []time.Time `json:"moves,omitempty"`    // failovers and failbacks, for flap damping
	DampedUntil time.Time   `json:"damped_until,omitzero"`
}
