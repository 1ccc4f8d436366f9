package dnsupdate

import "errors"

// Errors callers branch on. Every error returned by this package that stems
// from one of these conditions matches it with errors.Is; the error's own
// message says what happened and what to check.
var (
	// ErrPrecondition: the compare-and-swap prerequisite did not hold
	// (NXRRSET or YXRRSET): the record did not hold exactly the expected
	// addresses, and the server changed nothing.
	ErrPrecondition = errors.New("dnsupdate: precondition failed, record unchanged")
	// ErrBadKey: the server rejected the TSIG key (BADKEY or BADSIG), or its
	// reply did not verify with our key, on every attempt. Such replies carry
	// no MAC, so they may also be forgeries hiding the real reply.
	ErrBadKey = errors.New("dnsupdate: TSIG key rejected")
	// ErrBadTime: the TSIG time check failed (BADTIME): the clocks of this
	// host and the server differ by more than the allowed fudge.
	ErrBadTime = errors.New("dnsupdate: TSIG time check failed (clock skew)")
	// ErrRefused: the server refused the request (REFUSED): the update was
	// unsigned, or the key may not change this name.
	ErrRefused = errors.New("dnsupdate: refused by the server")
	// ErrNotAuth: the server is not authoritative for the zone (NOTAUTH
	// without a TSIG error, or an answer without the AA bit).
	ErrNotAuth = errors.New("dnsupdate: server not authoritative for the zone")
	// ErrTimeout: no answer within the timeout, after every retry.
	ErrTimeout = errors.New("dnsupdate: timeout")
	// ErrServFail: the server answered SERVFAIL on every attempt.
	ErrServFail = errors.New("dnsupdate: server failure")
	// ErrRejected: the server answered with another error code (FORMERR,
	// NOTIMP, NOTZONE, ...).
	ErrRejected = errors.New("dnsupdate: request rejected")
	// ErrVerify: after an update, or while waiting for secondaries, a server
	// did not answer the expected address set.
	ErrVerify = errors.New("dnsupdate: verification failed")
	// ErrInvalid: the caller's input is unusable (a name outside the zone, no
	// addresses, a malformed key file); nothing was sent.
	ErrInvalid = errors.New("dnsupdate: invalid input")
)

// dnsError is an error with a specific, actionable message that matches one
// of the sentinel errors above and, when set, the underlying cause.
type dnsError struct {
	kind  error
	msg   string
	cause error
}

func (e *dnsError) Error() string {
	if e.cause != nil {
		return e.msg + ": " + e.cause.Error()
	}
	return e.msg
}

func (e *dnsError) Unwrap() []error {
	if e.cause != nil {
		return []error{e.kind, e.cause}
	}
	return []error{e.kind}
}
