package proxy

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// flipOnReport makes the fake monitor move web to addr's backend shortly
// after the first suspect report, as the real monitor would after a
// failover.
func flipOnReport(r *rig, to Placement) {
	var once atomic.Bool
	r.mon.mu.Lock()
	r.mon.onReport = func(string, SuspectReport) {
		if once.CompareAndSwap(false, true) {
			go func() {
				time.Sleep(20 * time.Millisecond)
				r.mon.publish(to)
			}()
		}
	}
	r.mon.mu.Unlock()
}

// echoBody answers with its name and the request body.
func echoBody(name string, posts *atomic.Int32) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		if req.Method == http.MethodPost {
			posts.Add(1)
		}
		fmt.Fprintf(w, "%s:%s", name, b)
	})
}

func TestRetryAfterRefusedConnection(t *testing.T) {
	var posts atomic.Int32
	a := newBackendServer(t, 2, 0, "primary", nil)
	sb := newBackendServer(t, 3, a.port, "standby", echoBody("standby", &posts))
	r := newRig(t, a.port, nil, place(a.addr, 1))
	flipOnReport(r, place(sb.addr, 2))
	waitFor(t, "the first placement", func() bool { b, _ := r.p.byName["web"].current(); return b != nil })
	a.Close() // the service dies, the host still answers pings

	tests := []struct{ method, body string }{
		{http.MethodPost, "payload"}, // refused: nothing was sent, so it is retried
		{http.MethodGet, ""},
	}
	for _, tc := range tests {
		status, body, _ := r.do(t, tc.method, "web.test", strings.NewReader(tc.body))
		if status != http.StatusOK || body != "standby:"+tc.body {
			t.Fatalf("%s: status %d body %q, want 200 standby:%s", tc.method, status, body, tc.body)
		}
	}
	if posts.Load() != 1 {
		t.Errorf("standby got %d POSTs, want 1", posts.Load())
	}
	if got := len(r.mon.reported()); got != 1 {
		t.Errorf("%d suspect reports, want 1", got)
	}
	if got := value(r.p.m.suspects.WithLabelValues("web", "connection")); got != 1 {
		t.Errorf("understudy_proxy_suspects_total{by=connection} = %v, want 1", got)
	}
}

// dropAfterBody reads the request body, stops listening and drops the
// connection without answering: the service crashed with the request sent.
func dropAfterBody(got *atomic.Int32, srv **backendServer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.ReadAll(req.Body)
		got.Add(1)
		(*srv).Listener.Close()
		c, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			c.Close()
		}
	})
}

func TestSentBodyNotRetried(t *testing.T) {
	var primaryGot, standbyPosts atomic.Int32
	var a *backendServer
	a = newBackendServer(t, 2, 0, "primary", dropAfterBody(&primaryGot, &a))
	sb := newBackendServer(t, 3, a.port, "standby", echoBody("standby", &standbyPosts))
	r := newRig(t, a.port, nil, place(a.addr, 1))
	flipOnReport(r, place(sb.addr, 2))
	waitFor(t, "the first placement", func() bool { b, _ := r.p.byName["web"].current(); return b != nil })

	status, _, _ := r.do(t, http.MethodPost, "web.test", strings.NewReader("order #1"))
	if status != http.StatusBadGateway {
		t.Fatalf("POST whose body reached a dying backend: status %d, want 502", status)
	}
	if primaryGot.Load() != 1 || standbyPosts.Load() != 0 {
		t.Fatalf("primary saw %d, standby %d POSTs; want 1 and 0 (never sent twice)", primaryGot.Load(), standbyPosts.Load())
	}
	// The failure still moved the service: the next request lands on the standby.
	status, body, _ := r.do(t, http.MethodPost, "web.test", strings.NewReader("order #2"))
	if status != http.StatusOK || body != "standby:order #2" {
		t.Fatalf("next POST: status %d body %q, want 200 from the standby", status, body)
	}
}

func TestGetRetriedAfterDroppedConnection(t *testing.T) {
	var primaryGot, none atomic.Int32
	var a *backendServer
	a = newBackendServer(t, 2, 0, "primary", dropAfterBody(&primaryGot, &a))
	sb := newBackendServer(t, 3, a.port, "standby", echoBody("standby", &none))
	r := newRig(t, a.port, nil, place(a.addr, 1))
	flipOnReport(r, place(sb.addr, 2))
	waitFor(t, "the first placement", func() bool { b, _ := r.p.byName["web"].current(); return b != nil })

	status, body, _ := r.get(t, "web.test")
	if status != http.StatusOK || body != "standby:" {
		t.Fatalf("GET: status %d body %q, want 200 from the standby", status, body)
	}
	if got := r.outcomes(OutcomeRetried); got != 1 {
		t.Errorf("retried outcomes = %v, want 1", got)
	}
}

// TestInflightGetMovesWhenBackendTurnsSuspect: a GET waiting on a backend
// that stops answering (blackholed) is cancelled when another request's
// probe finds the backend down, and retried on the new backend.
func TestInflightGetMovesWhenBackendTurnsSuspect(t *testing.T) {
	var none atomic.Int32
	stuck := make(chan struct{})
	entered := make(chan struct{}, 1)
	a := newBackendServer(t, 2, 0, "primary", http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		entered <- struct{}{}
		select {
		case <-stuck:
		case <-req.Context().Done():
		}
	}))
	t.Cleanup(func() { close(stuck) })
	sb := newBackendServer(t, 3, a.port, "standby", echoBody("standby", &none))
	r := newRig(t, a.port, nil, place(a.addr, 1))
	flipOnReport(r, place(sb.addr, 2))
	waitFor(t, "the first placement", func() bool { b, _ := r.p.byName["web"].current(); return b != nil })

	result := make(chan string, 1)
	go func() {
		status, body, _ := r.get(t, "web.test")
		result <- fmt.Sprintf("%d %s", status, body)
	}()
	<-entered
	r.ping.setDead(a.addr, true)
	a.Listener.Close() // blackholed: no new connections either
	// A second request's probe misses and marks the backend suspect.
	status, body, _ := r.get(t, "web.test")
	if status != http.StatusOK || body != "standby:" {
		t.Fatalf("second request: %d %q, want 200 from the standby", status, body)
	}
	if got := <-result; got != "200 standby:" {
		t.Fatalf("in-flight request: %q, want it retried on the standby", got)
	}
}

func TestBackendDownClassifiesAClosedIdleConnection(t *testing.T) {
	// net/http does not export errServerClosedIdle; its text is the contract.
	err := fmt.Errorf("round trip: %w", errors.New("http: server closed idle connection"))
	if !backendDown(err) {
		t.Error("a kept-alive connection closed by a dying backend is not taken as the backend going down")
	}
	if backendDown(errors.New("http: request body too large")) {
		t.Error("a problem of one request is taken as the backend going down")
	}
}

// TestGetWithReadBodyNotRetried: a GET whose body the backend read before
// dropping the connection is not resent: its body is consumed, and the
// retry would carry what is left of it (nothing), which for a chunked
// body the standby would take as a GET without one.
func TestGetWithReadBodyNotRetried(t *testing.T) {
	bodies := map[string]func() io.Reader{
		"sized":   func() io.Reader { return strings.NewReader("query") },
		"chunked": func() io.Reader { return io.MultiReader(strings.NewReader("query")) },
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			var primaryGot, standbyGot atomic.Int32
			var a *backendServer
			a = newBackendServer(t, 2, 0, "primary", dropAfterBody(&primaryGot, &a))
			sb := newBackendServer(t, 3, a.port, "standby", http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				standbyGot.Add(1)
				echoBody("standby", nil).ServeHTTP(w, req)
			}))
			r := newRig(t, a.port, nil, place(a.addr, 1))
			flipOnReport(r, place(sb.addr, 2))
			waitFor(t, "the first placement", func() bool { b, _ := r.p.byName["web"].current(); return b != nil })

			status, got, _ := r.do(t, http.MethodGet, "web.test", body())
			if status != http.StatusBadGateway {
				t.Fatalf("GET whose body reached a dying backend: status %d body %q, want 502", status, got)
			}
			if primaryGot.Load() != 1 || standbyGot.Load() != 0 {
				t.Fatalf("primary saw %d, standby %d GETs; want 1 and 0", primaryGot.Load(), standbyGot.Load())
			}
		})
	}
}

// TestSafeAttemptWithReadBodyKept: once some of a safe request's body was
// read, the attempt is neither cancelled when its backend turns suspect
// nor retried elsewhere; before that it is both.
func TestSafeAttemptWithReadBodyKept(t *testing.T) {
	a := &attempt{safe: true, idempotent: true, body: &replayBody{hasBody: true}}
	if !a.cancelOnSuspect() || !a.retryable() {
		t.Fatalf("unread body: cancelOnSuspect %v retryable %v, want true true", a.cancelOnSuspect(), a.retryable())
	}
	a.body.read.Store(5)
	if a.cancelOnSuspect() || a.retryable() || a.resendable() {
		t.Fatalf("read body: cancelOnSuspect %v retryable %v resendable %v, want all false",
			a.cancelOnSuspect(), a.retryable(), a.resendable())
	}
}
