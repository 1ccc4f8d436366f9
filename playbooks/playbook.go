// Package playbooks holds the recovery playbook model: the ordered list of
// steps that recover runs when a service fails over, the strict YAML parser
// for playbook files (errors carry file:line:col), and the default playbooks
// for warm, cold and restore services, embedded in the binary.
//
// The package does no network or process I/O itself: it describes steps and
// their contracts (see README.md); package recover executes them through
// small interfaces of its own.
package playbooks

import (
	"time"
)

// Kind names one kind of step.
type Kind string

// The step kinds. README.md documents the contract of each.
const (
	Confirm     Kind = "confirm"      // the standby agent probes the primary; both vantage points must agree
	Fence       Kind = "fence"        // stop the primary per the service's fence policy
	Activate    Kind = "activate"     // the standby agent activates the container (carries the epoch)
	WaitHealthy Kind = "wait-healthy" // the service check passes against the new address
	DNSReplace  Kind = "dns-replace"  // compare-and-swap of the DNS record from the old address to the new
	Notify      Kind = "notify"       // webhook POST with the incident as JSON
	Exec        Kind = "exec"         // operator hook with incident variables in its environment
	Wait        Kind = "wait"         // pause for a fixed duration (logical; no I/O)
)

// Kinds lists every step kind in the order README.md documents them.
var Kinds = []Kind{Confirm, Fence, Activate, WaitHealthy, DNSReplace, Notify, Exec, Wait}

// valid reports whether k is a known step kind.
func (k Kind) valid() bool {
	for _, x := range Kinds {
		if x == k {
			return true
		}
	}
	return false
}

// Idempotent reports whether a step of this kind may be run again when a
// restart finds it started but not finished. Confirm, wait-healthy and wait
// only read; activate is coalesced and epoch-guarded by the agent; and
// dns-replace is a compare-and-swap whose "already holds the new address"
// outcome counts as done. Fence, notify and exec have effects recover cannot
// observe, so they are re-run only when the step says `idempotent: true`
// (or, for fence, when the policy is a hypervisor force-stop; recover decides
// that).
func (k Kind) Idempotent() bool {
	switch k {
	case Confirm, Activate, WaitHealthy, DNSReplace, Wait:
		return true
	}
	return false
}

// DefaultTimeout is the timeout of a step of this kind that sets none.
func (k Kind) DefaultTimeout() time.Duration {
	switch k {
	case Confirm:
		return 2 * time.Second
	case Activate:
		return 30 * time.Second
	case WaitHealthy:
		return 15 * time.Second
	case Exec:
		return 30 * time.Second
	case Wait:
		return 0
	}
	return 5 * time.Second
}

// Retry is a step's retry policy. A failed attempt is retried after a
// backoff that doubles with every attempt (Backoff, 2×Backoff, ...) up to
// MaxBackoff, less a random jitter of up to half of it, for as long as both
// bounds allow: at most Attempts runs in total (unset with a Budget: no
// count limit), and no new attempt later than Budget after the first one
// started (unset: no time limit). The zero value means one attempt.
type Retry struct {
	Attempts   int           `json:"attempts"`
	Backoff    time.Duration `json:"backoff"`
	MaxBackoff time.Duration `json:"max_backoff,omitempty"` // default DefaultMaxBackoff
	Budget     time.Duration `json:"budget,omitempty"`
}

// DefaultMaxBackoff caps the doubling backoff of a step that sets none.
const DefaultMaxBackoff = 30 * time.Second

// DefaultBudgetBackoff is the first backoff of a step with a budget and no
// backoff, so that a step failing at once does not spin.
const DefaultBudgetBackoff = 200 * time.Millisecond

// unlimitedAttempts stands for "no count limit" when only a budget bounds
// the retries.
const unlimitedAttempts = 1 << 30

// Delay is the backoff before attempt n+1 once attempt n (from 1) failed,
// before jitter: Backoff doubled n-1 times, capped at MaxBackoff.
func (r Retry) Delay(n int) time.Duration {
	d := r.Backoff
	if d <= 0 {
		if r.Budget <= 0 {
			return 0
		}
		d = DefaultBudgetBackoff
	}
	limit := r.MaxBackoff
	if limit <= 0 {
		limit = DefaultMaxBackoff
	}
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, max(limit, r.Backoff))
}

// Step is one step of a playbook.
type Step struct {
	Kind    Kind          `json:"step"`
	Timeout time.Duration `json:"timeout"` // bound on one attempt; DefaultTimeout when unset
	Retry   Retry         `json:"retry"`

	URL        string        `json:"url,omitempty"`        // notify: webhook URL; empty means the monitor's default webhook
	Command    []string      `json:"command,omitempty"`    // exec: argv, run without a shell
	Duration   time.Duration `json:"duration,omitempty"`   // wait: how long
	Idempotent bool          `json:"idempotent,omitempty"` // fence, notify, exec: safe to re-run after a restart

	Line int `json:"-"` // position in the source, for messages
}

// Attempts is the number of runs the retry policy allows (at least 1); a
// step bounded by its budget alone allows a practically unlimited number.
func (s Step) Attempts() int {
	switch {
	case s.Retry.Attempts >= 1:
		return s.Retry.Attempts
	case s.Retry.Budget > 0:
		return unlimitedAttempts
	}
	return 1
}

// Rerunnable reports whether the step may be re-run after a restart
// interrupted it (see Kind.Idempotent).
func (s Step) Rerunnable() bool { return s.Kind.Idempotent() || s.Idempotent }

// Playbook is an ordered list of steps with the name it was loaded under
// (a default's name or a file path).
type Playbook struct {
	Name  string `json:"name"`
	Steps []Step `json:"steps"`
}

// Index returns the position of the first step of kind k, or -1.
func (p *Playbook) Index(k Kind) int {
	for i, s := range p.Steps {
		if s.Kind == k {
			return i
		}
	}
	return -1
}
