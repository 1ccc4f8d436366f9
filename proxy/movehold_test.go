package proxy

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// moving is p with Held set: the monitor says the service is moving.
func moving(p Placement) Placement {
	p.Held = true
	return p
}

// asyncGet sends a GET through the proxy in a goroutine and delivers
// "STATUS BODY" (or the error) on the returned channel.
func (r *rig) asyncGet(host string) <-chan string {
	out := make(chan string, 1)
	go func() {
		req, err := http.NewRequest(http.MethodGet, r.front.URL+"/", nil)
		if err != nil {
			out <- err.Error()
			return
		}
		req.Host = host
		resp, err := r.front.Client().Do(req)
		if err != nil {
			out <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		out <- fmt.Sprintf("%d %s", resp.StatusCode, b)
	}()
	return out
}

// placementHeld is the understudy_proxy_placement_held gauge for web.
func (r *rig) placementHeld() float64 {
	return value(r.p.m.placementHeld.WithLabelValues("web"))
}

// TestMoveHoldReleasesToPlacementAtRelease: while the placement is held,
// new requests wait; an address change during the hold does not release
// them; the release sends them all to the placement current then.
func TestMoveHoldReleasesToPlacementAtRelease(t *testing.T) {
	var standbyHits atomic.Int32
	a := newBackendServer(t, 2, 0, "standby", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		standbyHits.Add(1)
		fmt.Fprint(w, "standby")
	}))
	sp := newBackendServer(t, 3, a.port, "spare", nil)
	r := newRig(t, a.port, nil, place(a.addr, 1))
	waitFor(t, "the first placement", func() bool { b, _ := r.p.byName["web"].current(); return b != nil })
	if status, body, _ := r.get(t, "web.test"); status != http.StatusOK || body != "standby" {
		t.Fatalf("before the move: %d %q", status, body)
	}

	r.mon.publish(moving(place(a.addr, 1)))
	waitFor(t, "the hold", func() bool { return r.placementHeld() == 1 })
	const n = 5
	results := make([]<-chan string, n)
	for i := range results {
		results[i] = r.asyncGet("web.test")
	}
	waitFor(t, "held requests", func() bool { return r.held() == n })

	// DNS flipped: the held placement points at the spare; still held.
	r.mon.publish(moving(place(sp.addr, 1)))
	waitFor(t, "the new address", func() bool { return value(r.p.m.placementChanges.WithLabelValues("web")) == 1 })
	if got := r.held(); got != n {
		t.Fatalf("after an address change under the hold %v requests wait, want %d", got, n)
	}

	r.mon.publish(place(sp.addr, 1))
	for i, res := range results {
		if got := <-res; got != "200 spare" {
			t.Errorf("held request %d: %q, want 200 from the spare", i, got)
		}
	}
	if got := standbyHits.Load(); got != 1 {
		t.Errorf("the standby got %d requests, want only the one before the move", got)
	}
	if r.placementHeld() != 0 || r.outcomes(OutcomeForwarded) != n+1 {
		t.Errorf("placement held gauge %v, forwarded %v; want 0 and %d", r.placementHeld(), r.outcomes(OutcomeForwarded), n+1)
	}
	if got := r.mon.reported(); len(got) != 0 {
		t.Errorf("suspect reports %v during a move, want none", got)
	}
}

// TestMoveHoldAbortedReleasesToSameAddress: a move that gave up releases
// the hold at the address it began at.
func TestMoveHoldAbortedReleasesToSameAddress(t *testing.T) {
	a := newBackendServer(t, 2, 0, "standby", nil)
	r := newRig(t, a.port, nil, moving(place(a.addr, 1)))
	waitFor(t, "the hold", func() bool { return r.placementHeld() == 1 })
	res := r.asyncGet("web.test")
	waitFor(t, "a held request", func() bool { return r.held() == 1 })
	r.mon.publish(place(a.addr, 1))
	if got := <-res; got != "200 standby" {
		t.Fatalf("held request: %q, want 200 from the standby", got)
	}
}

// TestMoveHoldInflightFinishes: a request sent before the hold finishes on
// its backend; one that arrives during the hold waits for the release.
func TestMoveHoldInflightFinishes(t *testing.T) {
	entered, finish := make(chan struct{}, 1), make(chan struct{})
	a := newBackendServer(t, 2, 0, "standby", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		entered <- struct{}{}
		<-finish
		fmt.Fprint(w, "standby")
	}))
	sp := newBackendServer(t, 3, a.port, "spare", nil)
	r := newRig(t, a.port, nil, place(a.addr, 1))
	waitFor(t, "the first placement", func() bool { b, _ := r.p.byName["web"].current(); return b != nil })

	inflight := r.asyncGet("web.test")
	<-entered
	r.mon.publish(moving(place(a.addr, 1)))
	waitFor(t, "the hold", func() bool { return r.placementHeld() == 1 })
	waiting := r.asyncGet("web.test")
	waitFor(t, "a held request", func() bool { return r.held() == 1 })
	close(finish)
	if got := <-inflight; got != "200 standby" {
		t.Fatalf("in-flight request: %q, want it answered by the standby", got)
	}
	r.mon.publish(place(sp.addr, 1))
	if got := <-waiting; got != "200 spare" {
		t.Fatalf("held request: %q, want 200 from the spare", got)
	}
}

// TestMoveHoldRetriesRequestCutByTheStop: a GET in flight when the move
// stops its container (the connection drops) is retried once on the
// placement current at the release, and the failure is not reported to the
// monitor as a suspect.
func TestMoveHoldRetriesRequestCutByTheStop(t *testing.T) {
	entered, stop := make(chan struct{}, 1), make(chan struct{})
	a := newBackendServer(t, 2, 0, "standby", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		entered <- struct{}{}
		<-stop
		if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
			c.Close() // the container stopped under the request
		}
	}))
	sp := newBackendServer(t, 3, a.port, "spare", nil)
	r := newRig(t, a.port, nil, place(a.addr, 1))
	waitFor(t, "the first placement", func() bool { b, _ := r.p.byName["web"].current(); return b != nil })

	res := r.asyncGet("web.test")
	<-entered
	r.mon.publish(moving(place(a.addr, 1)))
	waitFor(t, "the hold", func() bool { return r.placementHeld() == 1 })
	close(stop)
	waitFor(t, "the cut request to wait", func() bool { return r.held() == 1 })
	r.mon.publish(moving(place(sp.addr, 1)))
	r.mon.publish(place(sp.addr, 1))
	if got := <-res; got != "200 spare" {
		t.Fatalf("cut request: %q, want it retried on the spare", got)
	}
	if got := r.outcomes(OutcomeRetried); got != 1 {
		t.Errorf("retried outcomes = %v, want 1", got)
	}
	if got := r.mon.reported(); len(got) != 0 {
		t.Errorf("suspect reports %v during a move, want none", got)
	}
}

// TestMoveHoldBounds: a move hold is bounded like any hold. Past the queue
// bound a request gets 503 at once, with Retry-After of the hold; a held
// request waits at most its service's hold, then gets 503 with Retry-After.
// Each part waits for events only: the queue part holds for a minute and
// ends the hold itself, so no request can time out under it on a slow
// machine; the hold part has one request and nothing to race with.
func TestMoveHoldBounds(t *testing.T) {
	a := newBackendServer(t, 2, 0, "standby", nil)
	t.Run("queue", func(t *testing.T) {
		r := newRig(t, a.port, func(c *Config) {
			c.Services[0].Hold = time.Minute
			c.Queue = 1
		}, moving(place(a.addr, 1)))
		waitFor(t, "the hold", func() bool { return r.placementHeld() == 1 })
		first := r.asyncGet("web.test")
		waitFor(t, "a held request", func() bool { return r.held() == 1 })
		status, body, hdr := r.get(t, "web.test")
		if status != http.StatusServiceUnavailable || hdr.Get("Retry-After") != "60" {
			t.Errorf("past the queue: %d %q Retry-After %q, want 503 with Retry-After 60 (the hold)", status, body, hdr.Get("Retry-After"))
		}
		r.mon.publish(place(a.addr, 1)) // the move ends: the held request goes on
		if got := <-first; got != "200 standby" {
			t.Errorf("the held request after the hold ended: %q, want 200 standby", got)
		}
		if r.outcomes(OutcomeQueueFull) != 1 || r.outcomes(OutcomeHoldTimeout) != 0 {
			t.Errorf("outcomes queue_full %v hold_timeout %v, want 1 and 0", r.outcomes(OutcomeQueueFull), r.outcomes(OutcomeHoldTimeout))
		}
	})
	t.Run("hold", func(t *testing.T) {
		r := newRig(t, a.port, func(c *Config) { c.Services[0].Hold = 50 * time.Millisecond }, moving(place(a.addr, 1)))
		waitFor(t, "the hold", func() bool { return r.placementHeld() == 1 })
		if got := <-r.asyncGet("web.test"); !strings.HasPrefix(got, "503 ") {
			t.Errorf("held past its hold: %q, want 503", got)
		}
		if r.outcomes(OutcomeHoldTimeout) != 1 || r.outcomes(OutcomeQueueFull) != 0 {
			t.Errorf("outcomes hold_timeout %v queue_full %v, want 1 and 0", r.outcomes(OutcomeHoldTimeout), r.outcomes(OutcomeQueueFull))
		}
	})
}

// TestMoveHoldExpires: a placement held longer than HeldMax (a monitor
// that died mid-move) no longer holds requests.
func TestMoveHoldExpires(t *testing.T) {
	a := newBackendServer(t, 2, 0, "standby", nil)
	r := newRig(t, a.port, func(c *Config) { c.HeldMax = 50 * time.Millisecond }, moving(place(a.addr, 1)))
	waitFor(t, "the hold", func() bool { return r.placementHeld() == 1 })
	res := r.asyncGet("web.test")
	if got := <-res; got != "200 standby" {
		t.Fatalf("request under an expired hold: %q, want 200 from the standby", got)
	}
	if r.placementHeld() != 0 || r.outcomes(OutcomeForwarded) != 1 {
		t.Errorf("placement held gauge %v, forwarded %v; want 0 and 1", r.placementHeld(), r.outcomes(OutcomeForwarded))
	}
}
