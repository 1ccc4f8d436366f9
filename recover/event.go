package recover

import (
	"net/netip"
	"time"

	"github.com/understudy/understudy/playbooks"
)

// Event is an input to Machine.Step. Every event carries the time it
// happened: the machine has no clock of its own.
type Event interface{ when() time.Time }

// Trigger reports a failed primary (monitor, proxy) or asks for a manual
// failover (CLI). It opens an incident or joins the open one.
type Trigger struct {
	At     time.Time
	Source Source
	Reason string
	// Copy, when set, is the age of the standby's copy at At; an incident
	// the trigger opens records it (Incident.Copy).
	Copy *CopyAge
}

// StepDone reports that an attempt of a step succeeded.
type StepDone struct {
	At       time.Time
	Incident string
	Step     int // index in the playbook
	Attempt  int
	Result   StepResult
}

// StepResult carries what a step found.
type StepResult struct {
	Disagree bool         // confirm: the agent sees the primary alive
	Frozen   bool         // fence: the primary was frozen; a StopFenced is due after the DNS flip
	Address  netip.Addr   // activate: the standby's address
	Restored bool         // activate: restored from a checkpoint
	Fallback string       // activate: why a restore fell back
	Phases   []AgentPhase // activate: the agent's phase times
	Note     string       // anything worth keeping (DNS already flipped, no webhook, ...)
	// dns-replace: when the swap took effect (zero: at the step's end);
	// Verified when every dns.verify server then answered the new address;
	// Warnings name the servers that did not, which leaves the step done;
	// Unverified holds those servers, one for each warning.
	Flipped    time.Time
	Verified   bool
	Warnings   []string
	Unverified []string
}

// StepFailed reports that an attempt of a step failed. Permanent failures
// (ErrPermanent, ErrPrecondition) are not retried.
type StepFailed struct {
	At        time.Time
	Incident  string
	Step      int
	Attempt   int
	Err       string
	Permanent bool
	// Unprotected is the reason when the standby refused the step for
	// capacity (the error is an ErrUnprotected); empty otherwise.
	Unprotected string
}

// Tick advances the logical clock: step deadlines, backoffs and waits fire.
type Tick struct{ At time.Time }

// Reset is an operator declaring the primary serves the service again. It
// runs the reset's steps (DefaultResetPlaybook: the primary's check, the DNS
// swap back, the standby slot's reset) on a stuck incident, or as an
// incident of its own (KindReset) from the standby or a spare.
type Reset struct {
	At     time.Time
	Reason string
}

// Migrate asks to move a service from the standby to the spare To (chosen
// by the caller, e.g. with package spares). It opens a migration
// incident, or joins the open one when it goes to the same spare.
type Migrate struct {
	At     time.Time
	Source Source
	Reason string
	To     string // the spare's name
}

// Failback asks to move a service from the standby or a spare back to its
// primary. It opens a failback incident, or joins the open one.
type Failback struct {
	At     time.Time
	Source Source
	Reason string
}

// FenceStopped reports how the background force-stop of a frozen primary
// (the StopFenced action) ended: Err is empty when it stopped. It records
// PhaseFenceStop, or a warning and an AlertFenceStop; the failover stands
// either way (the frozen primary neither serves nor writes).
type FenceStopped struct {
	At       time.Time
	Incident string
	Err      string
}

func (e FenceStopped) when() time.Time { return e.At }

func (e Migrate) when() time.Time  { return e.At }
func (e Failback) when() time.Time { return e.At }

func (e Trigger) when() time.Time    { return e.At }
func (e StepDone) when() time.Time   { return e.At }
func (e StepFailed) when() time.Time { return e.At }
func (e Tick) when() time.Time       { return e.At }
func (e Reset) when() time.Time      { return e.At }

// Action is an output of Machine.Step for the executor to perform.
type Action interface{ isAction() }

// RunStep asks the executor to run one attempt of a step and to report
// StepDone or StepFailed with the same Incident, Step and Attempt.
type RunStep struct {
	Incident string
	Service  string
	Index    int
	Step     playbooks.Step
	Attempt  int
	Deadline time.Time  // the attempt is abandoned at this time
	Epoch    uint64     // activate: the monitor's epoch
	From     netip.Addr // dns-replace: the address expected in the record
	To       netip.Addr // wait-healthy, dns-replace: the standby's address
	Resumed  bool       // re-run after a restart interrupted it
	Target   string     // copy, undo-copy: the spare a migration moves to
	Origin   Placement  // migrations and failbacks: where the service ran when the move began
}

// Alert kinds: what state an alert reports.
const (
	AlertStuck       = "stuck"          // an incident stopped; an operator must act
	AlertUnfenced    = "unfenced"       // failing over without a confirmed fence
	AlertUnprotected = "unprotected"    // the service is left unprotected: flap damping refuses its failover
	AlertMove        = "move"           // a migration, failback or reset went on after a failed step, or aborted
	AlertUnverified  = "dns-unverified" // a dns.verify server did not answer the new address in time
	AlertFenceStop   = "fence-stop"     // the force-stop of a frozen primary failed after the failover; it stays frozen
)

// Alert asks the executor to raise an alert (log and the alert webhook).
type Alert struct {
	Incident string // empty when no incident was opened (flap damping)
	Service  string
	Kind     string // AlertStuck, AlertUnfenced, AlertUnprotected or AlertMove
	Reason   string
	// Subject is what of its kind the alert is about when an incident can
	// raise several (the dns.verify server of an unverified alert); it is
	// part of the alert's key, so receivers keep each.
	Subject string
}

// StopFenced asks the executor to force-stop the primary the incident's
// fence froze, in the background (the failover does not wait for it), and
// to report FenceStopped.
type StopFenced struct {
	Incident   string
	Service    string
	Hypervisor string
	Instance   string
}

func (RunStep) isAction()    {}
func (Alert) isAction()      {}
func (StopFenced) isAction() {}
