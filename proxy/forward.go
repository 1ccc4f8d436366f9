package proxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// errNotSent means the attempt was not made because its backend was
// already suspect.
var errNotSent = errors.New("backend suspect before the request was sent")

// attempt is one forwarding of a request to one backend.
type attempt struct {
	b          *backend
	body       *replayBody
	safe       bool // a safe method (RFC 9110 9.2.1): cancelled and retried when b turns suspect
	idempotent bool // an idempotent method (RFC 9110 9.2.2): resent when the placement moves
	cancel     context.CancelCauseFunc
	ctx        context.Context
	wrote      atomic.Bool // request headers were written to the backend
	err        error       // why the attempt failed, set by the error handler
}

type attemptKey struct{}

// retryable reports whether the request may be sent to another backend:
// never once some of its body was read (the rest cannot be sent whole);
// otherwise safe methods always, others only when the backend cannot have
// seen them (nothing written, or headers written but none of a non-empty
// body).
func (a *attempt) retryable() bool {
	if !a.body.unread() {
		return false
	}
	return a.safe || !a.wrote.Load() || a.body.hasBody
}

// cancelOnSuspect reports whether a is cancelled when its backend turns
// suspect: safe methods none of whose body was read yet.
func (a *attempt) cancelOnSuspect() bool { return a.safe && a.body.unread() }

// resendable reports whether a may be cancelled and sent again: an
// idempotent method none of whose body was read yet.
func (a *attempt) resendable() bool {
	return a.idempotent && a.body.unread()
}

// forward sends r to b through the ReverseProxy and relays the answer.
// The returned attempt's err is nil when a response was relayed.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, b *backend, body *replayBody) *attempt {
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	a := &attempt{b: b, body: body, safe: isSafe(r.Method), idempotent: isIdempotent(r.Method), cancel: cancel, ctx: ctx}
	if !b.register(a) {
		a.err = errNotSent
		return a
	}
	defer b.unregister(a)
	ctx = context.WithValue(ctx, attemptKey{}, a)
	if !a.safe { // only needed to decide whether a retry is safe
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
			WroteHeaders: func() { a.wrote.Store(true) },
		})
	}
	out := r.WithContext(ctx)
	out.Body = body.reader()
	p.relay(newHeldWriter(w, a), out)
	return a
}

// newReverseProxy builds the one httputil.ReverseProxy all services share;
// the attempt in the request's context names the backend.
func (p *Proxy) newReverseProxy(rt http.RoundTripper) *httputil.ReverseProxy {
	if rt == nil {
		rt = &http.Transport{
			DialContext:           p.dialer.DialContext,
			MaxIdleConns:          1024,
			MaxIdleConnsPerHost:   256,
			IdleConnTimeout:       90 * time.Second,
			ExpectContinueTimeout: time.Second,
		}
	}
	return &httputil.ReverseProxy{
		Transport: rt,
		ErrorLog:  slog.NewLogLogger(p.log.Handler(), slog.LevelWarn),
		Rewrite: func(pr *httputil.ProxyRequest) {
			a := pr.In.Context().Value(attemptKey{}).(*attempt)
			pr.SetURL(a.b.url)
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		ModifyResponse: func(resp *http.Response) error {
			// The attempt stays withdrawable until the first byte of
			// the body goes to the client (heldWriter), except an
			// upgrade, which is committed now.
			a := resp.Request.Context().Value(attemptKey{}).(*attempt)
			a.b.sawResponse() // alive now: clears a probe miss (backend.runProbe)
			if a.ctx.Err() != nil {
				return withdrawn(a)
			}
			if resp.StatusCode == http.StatusSwitchingProtocols && !a.b.commit(a) {
				return withdrawn(a)
			}
			return nil
		},
		ErrorHandler: func(_ http.ResponseWriter, r *http.Request, err error) {
			a := r.Context().Value(attemptKey{}).(*attempt)
			if cause := context.Cause(a.ctx); errors.Is(cause, ErrBackendSuspect) || errors.Is(cause, ErrPlacementMoved) {
				err = cause
			}
			a.err = err
		},
	}
}

// backendDown reports whether err says the backend is unreachable, as
// opposed to a problem of this one request.
func backendDown(err error) bool {
	var ne net.Error
	switch {
	case errors.Is(err, ErrBackendSuspect),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, syscall.EHOSTDOWN),
		errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF):
		return true
	case errors.As(err, &ne) && ne.Timeout():
		return true
	case strings.Contains(err.Error(), "server closed idle connection"):
		// net/http's unexported errServerClosedIdle: a dying backend closed
		// a kept-alive connection just as this request was sent on it.
		return true
	}
	return false
}

// isSafe reports whether a method is safe (RFC 9110 9.2.1): sending it
// twice changes nothing on the backend.
func isSafe(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// isIdempotent reports whether a method is idempotent (RFC 9110 9.2.2):
// the safe methods, PUT and DELETE. Sending it twice has the effect of
// sending it once.
func isIdempotent(m string) bool {
	return isSafe(m) || m == http.MethodPut || m == http.MethodDelete
}

// replayBody wraps a request body so that a retry can reuse it when none
// of it was read, and so that the transport cannot close it under us. When
// a body timeout is set, each read of it must return within that timeout.
type replayBody struct {
	r       io.ReadCloser
	hasBody bool
	read    atomic.Int64

	rc       *http.ResponseController // sets the client connection's read deadline; nil: no timeout
	timeout  time.Duration
	finished atomic.Bool // the request is over: leave the connection's deadline alone
	clientEr atomic.Bool // reading from the client failed (timed out or broke)
}

func newReplayBody(w http.ResponseWriter, r *http.Request, timeout time.Duration) *replayBody {
	has := r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
	b := &replayBody{r: r.Body, hasBody: has}
	if has && timeout > 0 {
		b.rc, b.timeout = http.NewResponseController(w), timeout
	}
	return b
}

// unread reports whether none of the body was read (or there is none), so
// that it can still be sent whole to another backend.
func (b *replayBody) unread() bool { return !b.hasBody || b.read.Load() == 0 }

// clientFailed reports whether an attempt failed because the client's
// body could not be read, not because of the backend.
func (b *replayBody) clientFailed() bool { return b.clientEr.Load() }

// finish ends the body's use of the client connection's deadline.
func (b *replayBody) finish() { b.finished.Store(true) }

// reader returns the body to send on one attempt.
func (b *replayBody) reader() io.ReadCloser {
	if !b.hasBody {
		return http.NoBody
	}
	return (*countingBody)(b)
}

// countingBody counts what the transport reads and bounds each read with
// the body timeout; Close does nothing (the server closes the real body).
type countingBody replayBody

func (c *countingBody) Read(p []byte) (int, error) {
	deadline := c.rc != nil && !c.finished.Load()
	if deadline {
		_ = c.rc.SetReadDeadline(time.Now().Add(c.timeout))
	}
	n, err := c.r.Read(p)
	c.read.Add(int64(n))
	switch {
	case err == io.EOF && deadline:
		_ = c.rc.SetReadDeadline(time.Time{}) // the response may stream on
	case err != nil && err != io.EOF:
		// Left expired: the server then drops the connection rather than
		// wait to discard the rest of the body.
		c.clientEr.Store(true)
	}
	return n, err
}

func (c *countingBody) Close() error { return nil }
