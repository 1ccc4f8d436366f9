package dnsupdate

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// tsigFudge is the allowed clock difference, in seconds, as BIND uses.
const tsigFudge = 300

// exchange sends the message that build returns to server and returns the
// checked reply. Every attempt gets a freshly built message (new ID, new TSIG
// time). Timeouts, attempts that saw only dropped replies (which is what a
// lost reply behind a forgery looks like) and SERVFAIL are retried with
// backoff, nothing else. timedOut reports whether an attempt timed out or
// saw only dropped replies, in which case an earlier request may have been
// applied even though its reply was lost.
func (c *Client) exchange(ctx context.Context, op, server string, sign bool, build func() *dns.Msg) (r *dns.Msg, timedOut bool, err error) {
	update := build().Opcode == dns.OpcodeUpdate
	for attempt := 0; ; attempt++ {
		r, err = c.roundTrip(ctx, server, sign, build)
		var dropped *droppedReply
		lost := errors.As(err, &dropped)
		err = c.check(op, server, r, err, sign)
		if err == nil {
			return r, timedOut, nil
		}
		if lost || errors.Is(err, ErrTimeout) {
			timedOut = true
		}
		if !lost && !errors.Is(err, ErrTimeout) && !errors.Is(err, ErrServFail) || attempt >= c.retries || ctx.Err() != nil {
			if update && notAuthReply(r, dropped) {
				err = c.explainNotAuth(ctx, op+" at "+server, server, sign, err)
			}
			if lost {
				err = fmt.Errorf("%w (attempt %d of %d)", err, attempt+1, c.retries+1)
			}
			return r, timedOut, err
		}
		delay := backoff(attempt)
		c.log.Warn("retrying", "op", op, "attempt", attempt+1, "delay", delay, "err", err)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return r, timedOut, err
		case <-t.C:
		}
	}
}

// backoff is 100 ms doubling per attempt up to 1 s, with ±25 % jitter.
func backoff(attempt int) time.Duration {
	d := 100 * time.Millisecond << min(attempt, 4)
	d = min(d, time.Second)
	return d - d/4 + rand.N(d/2+1)
}

// roundTrip does one attempt: UDP, then TCP when the reply is truncated.
func (c *Client) roundTrip(ctx context.Context, server string, sign bool, build func() *dns.Msg) (*dns.Msg, error) {
	r, err := c.send(ctx, "udp", server, sign, build())
	if err == nil && r != nil && r.Truncated {
		c.log.Debug("truncated reply, retrying over TCP")
		r, err = c.send(ctx, "tcp", server, sign, build())
	}
	return r, err
}

// check turns a transport error or an error reply into one of the package's
// errors. A reply reaches it only once send accepted it (for a signed request:
// its TSIG verified); an attempt that saw only dropped replies explains them.
// The TSIG error in the reply comes first (BIND answers a bad key with
// NOTAUTH plus a TSIG error), then err, then the rcode.
func (c *Client) check(op, server string, r *dns.Msg, err error, signed bool) error {
	at := op + " at " + server
	var dropped *droppedReply
	if errors.As(err, &dropped) {
		return c.droppedError(at, dropped)
	}
	if r == nil {
		return transportError(at, err)
	}
	if t := r.IsTsig(); t != nil && t.Error != dns.RcodeSuccess {
		return c.tsigError(at, t.Error)
	}
	if errors.Is(err, dns.ErrTime) {
		return &dnsError{kind: ErrBadTime, msg: fmt.Sprintf("%s: the server's signed reply is outside the %d s TSIG window: the clocks of this host and the server differ; sync them (NTP)", at, tsigFudge)}
	}
	if err != nil {
		return transportError(at, err)
	}
	if r.Rcode == dns.RcodeRefused && !signed && r.Opcode == dns.OpcodeUpdate {
		return &dnsError{kind: ErrRefused, msg: at + ": the server refused an unsigned update (REFUSED): configure the zone's TSIG key"}
	}
	return rcodeError(at, r.Rcode, r.Opcode == dns.OpcodeUpdate)
}

// droppedError explains an attempt that got only replies it had to drop.
// Nothing such a reply says is trusted: it may be forged. A TSIG error
// without a MAC (BADKEY, BADSIG) is still the likeliest cause, so it is
// named, as unverified.
func (c *Client) droppedError(at string, d *droppedReply) error {
	if d.malformed {
		return transportError(at, d)
	}
	const unverified = " (that reply was not signed, so it could also be forged: a wrong key, or forged replies hiding the real one; no verifiable reply came in time)"
	switch {
	case d.tsigErr != 0:
		e := c.tsigError(at, d.tsigErr).(*dnsError)
		e.msg += unverified
		return e
	case d.unsigned:
		return &dnsError{kind: ErrBadKey, msg: fmt.Sprintf(
			"%s: the only reply to the signed request was unsigned (%s) and was dropped: the server does not know %s, or this host's clock differs from the server's by more than %d s (PowerDNS answers both with an unsigned REFUSED to an update and NOTAUTH to a query, never BADTIME; check the key, then the clocks: NTP), or the reply was forged",
			at, dns.RcodeToString[d.rcode], c.keyDesc(), tsigFudge)}
	}
	return &dnsError{kind: ErrBadKey, msg: fmt.Sprintf(
		"%s: the server's reply does not verify with %s and was dropped: the server uses a different secret for this key name, or the reply was forged", at, c.keyDesc()),
		cause: d.cause}
}

func (c *Client) tsigError(at string, code uint16) error {
	name := dns.RcodeToString[int(code)]
	switch int(code) {
	case dns.RcodeBadSig, dns.RcodeBadKey:
		return &dnsError{kind: ErrBadKey, msg: fmt.Sprintf("%s: the server rejected the %s with %s: the key file does not match a key the server knows (name, algorithm and secret must all match)", at, c.keyDesc(), name)}
	case dns.RcodeBadTime:
		return &dnsError{kind: ErrBadTime, msg: fmt.Sprintf("%s: the server rejected the request's time (BADTIME): the clocks of this host and the server differ by more than %d s; sync them (NTP)", at, tsigFudge)}
	}
	return &dnsError{kind: ErrBadKey, msg: fmt.Sprintf("%s: the server answered TSIG error %s for %s", at, name, c.keyDesc())}
}

// rcodeError maps an error rcode to the package's errors. NXDOMAIN is an
// answer to a query, but a failed name prerequisite in an update.
func rcodeError(at string, rcode int, update bool) error {
	name := dns.RcodeToString[rcode]
	switch {
	case rcode == dns.RcodeSuccess, rcode == dns.RcodeNameError && !update:
		return nil
	}
	switch rcode {
	case dns.RcodeNXRrset, dns.RcodeYXRrset, dns.RcodeNameError, dns.RcodeYXDomain:
		return &dnsError{kind: ErrPrecondition, msg: fmt.Sprintf("%s: precondition failed (%s): the record does not hold exactly the expected addresses; nothing was changed", at, name)}
	case dns.RcodeRefused:
		return &dnsError{kind: ErrRefused, msg: fmt.Sprintf("%s: the server refused (REFUSED): the request is unsigned, or the key may not change this name (check the zone's update-policy / allow-update)", at)}
	case dns.RcodeNotAuth:
		return &dnsError{kind: ErrNotAuth, msg: fmt.Sprintf("%s: the server is not authoritative for the zone (NOTAUTH): check the server address and the zone name", at)}
	case dns.RcodeServerFailure:
		return &dnsError{kind: ErrServFail, msg: fmt.Sprintf("%s: the server failed (SERVFAIL); see its log", at)}
	}
	return &dnsError{kind: ErrRejected, msg: fmt.Sprintf("%s: the server answered %s", at, name)}
}

// transportError classifies an error that came without a usable reply.
func transportError(at string, err error) error {
	if err == nil {
		err = errors.New("no reply")
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return &dnsError{kind: ErrTimeout, msg: at + ": no answer in time", cause: err}
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("%s: no DNS server listens there (connection refused): %w", at, err)
	}
	return fmt.Errorf("%s: %w", at, err)
}

// keyDesc names the client's key for messages, without its secret.
func (c *Client) keyDesc() string {
	if c.key == nil {
		return "no TSIG key (unsigned)"
	}
	return c.key.String()
}
