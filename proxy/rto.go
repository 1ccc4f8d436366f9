package proxy

import "time"

// The probe's timeout adapts to the backend host, in the manner of TCP's
// retransmission timer (RFC 6298): from the RTTs of the echoes it answered,
//
//	first sample R:  SRTT = R, RTTVAR = R/2
//	each next R:     RTTVAR = (1-β)·RTTVAR + β·|SRTT-R|,  SRTT = (1-α)·SRTT + α·R
//	timeout:         min(cap, max(floor, SRTT + K·RTTVAR) · 2^backoff)
//
// with α = 1/8, β = 1/4 and K = 4 (RFC 6298's constants), floor =
// Config.ProbeFloor (DefaultProbeFloor) and cap = the service's
// probe-timeout. Before the first answer the timeout is the cap. backoff
// counts the first echoes that went unanswered since the last sample (RFC
// 6298 5.5 doubles the timer on each) and is reset by the next answer.
const (
	rttAlphaShift = 3 // α = 1/2^3
	rttBetaShift  = 2 // β = 1/2^2
	rttK          = 4
	maxRTTBackoff = 10 // at most 2^10 times the computed timeout (the cap bounds it first)
)

// rttEstimator is one backend host's smoothed RTT and its variation. It is
// not safe for concurrent use; backend.mu guards it.
type rttEstimator struct {
	srtt, rttvar time.Duration
	sampled      bool
	backoff      uint
}

// observe adds the RTT of an answered echo.
func (e *rttEstimator) observe(r time.Duration) {
	if !e.sampled {
		e.srtt, e.rttvar, e.sampled = r, r/2, true
	} else {
		d := e.srtt - r
		if d < 0 {
			d = -d
		}
		e.rttvar += (d - e.rttvar) >> rttBetaShift
		e.srtt += (r - e.srtt) >> rttAlphaShift
	}
	e.backoff = 0
}

// missed records a first echo that went unanswered within its timeout.
func (e *rttEstimator) missed() {
	if e.backoff < maxRTTBackoff {
		e.backoff++
	}
}

// timeout is how long the first echo of a probe waits, between floor and
// limit (the cap; limit wins when floor > limit).
func (e *rttEstimator) timeout(floor, limit time.Duration) time.Duration {
	if !e.sampled {
		return limit
	}
	t := max(e.srtt+rttK*e.rttvar, floor)
	for range e.backoff {
		if t >= limit {
			break
		}
		t *= 2
	}
	return min(t, limit)
}
