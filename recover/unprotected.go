package recover

import "errors"

// ErrUnprotected marks a step refused because the service's standby has no
// room for it (the monitor's admission gate, or the agent's own capacity
// check): the service is left unprotected. A step's error carries its
// reason as an *UnprotectedError; the executor records it as data
// (StepFailed.Unprotected), so no one reads it back out of a text.
var ErrUnprotected = errors.New("unprotected")

// UnprotectedError is ErrUnprotected with its reason ("no capacity (needs
// 512 MiB, 128 MiB free)") and the error it stands for, if any.
type UnprotectedError struct {
	Reason string
	Err    error
}

// Error returns "unprotected: " and the reason.
func (e *UnprotectedError) Error() string { return ErrUnprotected.Error() + ": " + e.Reason }

// Unwrap returns ErrUnprotected and the wrapped error.
func (e *UnprotectedError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrUnprotected}
	}
	return []error{ErrUnprotected, e.Err}
}

// UnprotectedReason returns why the stuck incident's failover is left
// unprotected ("no capacity (...)"): its current step failed for good
// because the standby has no room. It is empty otherwise.
func (i *Incident) UnprotectedReason() string {
	if i == nil || i.Stuck == "" || i.Current < 0 || i.Current >= len(i.Steps) {
		return ""
	}
	return i.Steps[i.Current].Unprotected
}
