package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
)

// errBodyCut means the backend's response body failed before any of it
// reached the client (a backend that sent its headers and then died).
var errBodyCut = fmt.Errorf("backend response body cut before anything reached the client: %w", io.ErrUnexpectedEOF)

// heldWriter holds a response's status and headers back until the first
// byte of its body, so that an attempt whose backend sent its headers and
// then froze or died can still be withdrawn and retried: until then
// nothing reached the client. A flush before that byte is held too (the
// ReverseProxy flushes right after the headers of a response without a
// Content-Length), so an SSE client sees the headers with the first event.
// 1xx answers pass through at once.
type heldWriter struct {
	w       http.ResponseWriter
	a       *attempt
	h       http.Header // headers until sent; then w's
	code    int
	sent    bool
	flushed bool // a flush came while the headers were held
}

func newHeldWriter(w http.ResponseWriter, a *attempt) *heldWriter {
	return &heldWriter{w: w, a: a, h: http.Header{}}
}

// Header returns the headers to set: the held ones until they are sent.
func (hw *heldWriter) Header() http.Header {
	if hw.sent {
		return hw.w.Header()
	}
	return hw.h
}

// WriteHeader holds code, except for informational answers.
func (hw *heldWriter) WriteHeader(code int) {
	switch {
	case hw.sent:
		hw.w.WriteHeader(code)
	case code >= 100 && code < 200 && code != http.StatusSwitchingProtocols:
		dst := hw.w.Header()
		for k, v := range hw.h {
			dst[k] = v
		}
		hw.w.WriteHeader(code)
		clear(dst)
	default:
		hw.code = code
	}
}

// Write sends the held headers with the first byte, unless the attempt
// was withdrawn first, and then the flush held with them.
func (hw *heldWriter) Write(p []byte) (int, error) {
	if hw.sent {
		return hw.w.Write(p)
	}
	if !hw.send(false) {
		return 0, withdrawn(hw.a)
	}
	n, err := hw.w.Write(p)
	if err == nil && hw.flushed {
		err = http.NewResponseController(hw.w).Flush()
	}
	return n, err
}

// FlushError flushes; while the headers are held it only notes the flush
// for the first Write, so that it does not commit the attempt.
func (hw *heldWriter) FlushError() error {
	if !hw.sent {
		hw.flushed = true
		return nil
	}
	return http.NewResponseController(hw.w).Flush()
}

// Hijack hands the client connection over (an upgrade, committed when its
// 101 arrived): from then on nothing is written through hw.
func (hw *heldWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(hw.w).Hijack()
	if err == nil {
		hw.sent = true
	}
	return c, brw, err
}

// Unwrap lets http.ResponseController reach the server's writer.
func (hw *heldWriter) Unwrap() http.ResponseWriter { return hw.w }

// send commits the attempt (from now on it is never withdrawn) and writes
// the held status and headers. Unless force (the whole response arrived),
// it fails when the attempt was withdrawn first.
func (hw *heldWriter) send(force bool) bool {
	if !hw.a.b.commit(hw.a) && !force {
		return false
	}
	dst := hw.w.Header()
	for k, v := range hw.h {
		dst[k] = v
	}
	if hw.code == 0 {
		hw.code = http.StatusOK
	}
	hw.w.WriteHeader(hw.code)
	hw.sent = true
	return true
}

// withdrawn is why a was withdrawn: its context's cause, or
// ErrBackendSuspect when the commit lost the race before the cancel.
func withdrawn(a *attempt) error {
	if cause := context.Cause(a.ctx); cause != nil {
		return cause
	}
	return ErrBackendSuspect
}

// relay runs the ReverseProxy for one attempt through hw. The
// ReverseProxy aborts the handler (panics with http.ErrAbortHandler) when
// the response body fails; while nothing reached the client that is an
// attempt failure like any other, so it becomes a.err and the request may
// be retried. Once bytes were sent, the abort goes on.
func (p *Proxy) relay(hw *heldWriter, out *http.Request) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v != http.ErrAbortHandler || hw.sent {
			panic(v)
		}
		hw.a.err = errBodyCut
		if cause := context.Cause(hw.a.ctx); errors.Is(cause, ErrBackendSuspect) || errors.Is(cause, ErrPlacementMoved) {
			hw.a.err = cause
		}
	}()
	p.rp.ServeHTTP(hw, out)
	if hw.a.err == nil && !hw.sent {
		hw.send(true) // a response without a body
	}
}
