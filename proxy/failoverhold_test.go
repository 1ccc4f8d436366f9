package proxy

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// failingOver is p with FailingOver set: the monitor confirmed the failure
// and its failover runs.
func failingOver(p Placement) Placement {
	p.FailingOver = true
	return p
}

// unavailable is p with Unavailable set to why.
func unavailable(p Placement, why string) Placement {
	p.Unavailable = why
	return p
}

// reply is one response through the proxy.
type reply struct {
	status int
	body   string
	header http.Header
	err    error
}

// asyncAnswer sends a GET for host through the proxy in a goroutine.
func (r *rig) asyncAnswer(host string) <-chan reply {
	out := make(chan reply, 1)
	go func() {
		req, err := http.NewRequest(http.MethodGet, r.front.URL+"/", nil)
		if err != nil {
			out <- reply{err: err}
			return
		}
		req.Host = host
		resp, err := r.front.Client().Do(req)
		if err != nil {
			out <- reply{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		out <- reply{status: resp.StatusCode, body: string(b), header: resp.Header}
	}()
	return out
}

// heldTotal is understudy_proxy_held_requests_total for web and reason.
func (r *rig) heldTotal(reason string) float64 {
	return value(r.p.m.heldTotal.WithLabelValues("web", reason))
}

// TestFailoverHoldReleasesOnNewPlacement: while the placement says failing
// over, new requests wait past the service's hold (the monitor confirmed
// the failure); the standby's placement releases them all to it, and
// nothing is reported to the monitor.
func TestFailoverHoldReleasesOnNewPlacement(t *testing.T) {
	a := newBackendServer(t, 2, 0, "primary", nil)
	sb := newBackendServer(t, 3, a.port, "standby", nil)
	const hold = 50 * time.Millisecond
	r := newRig(t, a.port, func(c *Config) { c.Services[0].Hold = hold }, place(a.addr, 1))
	waitFor(t, "the first placement", func() bool { b, _ := r.p.byName["web"].current(); return b != nil })

	r.mon.publish(failingOver(place(a.addr, 1)))
	waitFor(t, "the failover hold", func() bool { return r.placementHeld() == 1 })
	const n = 5
	results := make([]<-chan reply, n)
	for i := range results {
		results[i] = r.asyncAnswer("web.test")
	}
	waitFor(t, "held requests", func() bool { return r.held() == n })
	time.Sleep(4 * hold) // a bound that must not apply: the service's hold
	if got := r.held(); got != n || r.outcomes(OutcomeHoldTimeout) != 0 {
		t.Fatalf("after 4 holds: %v requests wait and %v timed out, want %d and 0", got, r.outcomes(OutcomeHoldTimeout), n)
	}

	r.mon.publish(place(sb.addr, 1))
	for i, res := range results {
		if got := <-res; got.err != nil || got.status != http.StatusOK || got.body != "standby" {
			t.Errorf("held request %d: %d %q %v, want 200 from the standby", i, got.status, got.body, got.err)
		}
	}
	if r.placementHeld() != 0 || r.outcomes(OutcomeForwarded) != n || r.heldTotal(reasonFailover) != n {
		t.Errorf("placement held %v, forwarded %v, held for a failover %v; want 0, %d, %d",
			r.placementHeld(), r.outcomes(OutcomeForwarded), r.heldTotal(reasonFailover), n, n)
	}
	if got := r.mon.reported(); len(got) != 0 {
		t.Errorf("suspect reports %v during a failover hold, want none", got)
	}
}

// TestFailoverHoldAfterOwnSuspect: the proxy holds a dead backend on its
// own first (and reports it); once the monitor's placement says failing
// over, the held request outlives the service's hold and goes to the
// standby when its placement arrives.
func TestFailoverHoldAfterOwnSuspect(t *testing.T) {
	a := newBackendServer(t, 2, 0, "primary", nil)
	sb := newBackendServer(t, 3, a.port, "standby", nil)
	const hold = 100 * time.Millisecond
	r := newRig(t, a.port, func(c *Config) { c.Services[0].Hold = hold }, place(a.addr, 1))
	waitFor(t, "the first placement", func() bool { b, _ := r.p.byName["web"].current(); return b != nil })
	a.Close() // the primary dies: connections are refused

	res := r.asyncAnswer("web.test")
	waitFor(t, "the suspect hold", func() bool { return r.held() == 1 && r.heldTotal(reasonSuspect) == 1 })
	r.mon.publish(failingOver(place(a.addr, 1)))
	waitFor(t, "the failover hold", func() bool { return r.heldTotal(reasonFailover) == 1 })
	time.Sleep(3 * hold)
	if r.held() != 1 {
		t.Fatalf("held %v after 3 holds under the failover hold, want the request still waiting", r.held())
	}
	r.mon.publish(place(sb.addr, 1))
	if got := <-res; got.err != nil || got.status != http.StatusOK || got.body != "standby" {
		t.Fatalf("held request: %d %q %v, want 200 from the standby", got.status, got.body, got.err)
	}
	if got := r.mon.reported(); len(got) != 1 {
		t.Errorf("suspect reports %v, want the one before the monitor confirmed", got)
	}
}

// TestFailoverHoldUnavailableRefusesAtOnce: a failover that stops
// unprotected releases its held requests with 503 and the reason at once,
// and refuses new ones the same way; a re-armed failover holds again and
// its placement serves them.
func TestFailoverHoldUnavailableRefusesAtOnce(t *testing.T) {
	a := newBackendServer(t, 2, 0, "primary", nil)
	sb := newBackendServer(t, 3, a.port, "standby", nil)
	r := newRig(t, a.port, func(c *Config) { c.Services[0].Hold = time.Minute }, failingOver(place(a.addr, 1)))
	waitFor(t, "the failover hold", func() bool { return r.placementHeld() == 1 })
	const n = 3
	results := make([]<-chan reply, n)
	for i := range results {
		results[i] = r.asyncAnswer("web.test")
	}
	waitFor(t, "held requests", func() bool { return r.held() == n })

	const why = "unprotected: no capacity (needs 512 MiB, 128 MiB free)"
	r.mon.publish(unavailable(place(a.addr, 1), why))
	check := func(what string, got reply) {
		t.Helper()
		if got.err != nil || got.status != http.StatusServiceUnavailable || got.header.Get(UnavailableHeader) != why ||
			got.body != "service unavailable: "+why+"\n" || got.header.Get("Retry-After") != "60" {
			t.Errorf("%s: %d %q %s %q Retry-After %q %v, want 503 with the reason", what, got.status, got.body,
				UnavailableHeader, got.header.Get(UnavailableHeader), got.header.Get("Retry-After"), got.err)
		}
	}
	for i, res := range results {
		check("held request "+string(rune('0'+i)), <-res)
	}
	check("new request", <-r.asyncAnswer("web.test"))
	if r.placementHeld() != 0 || r.outcomes(OutcomeUnavailable) != n+1 || r.outcomes(OutcomeHoldTimeout) != 0 {
		t.Errorf("placement held %v, unavailable %v, hold timeouts %v; want 0, %d, 0",
			r.placementHeld(), r.outcomes(OutcomeUnavailable), r.outcomes(OutcomeHoldTimeout), n+1)
	}

	r.mon.publish(failingOver(place(a.addr, 1))) // capacity freed: re-armed
	waitFor(t, "the hold again", func() bool { return r.placementHeld() == 1 })
	res := r.asyncAnswer("web.test")
	waitFor(t, "a held request", func() bool { return r.held() == 1 })
	r.mon.publish(place(sb.addr, 1))
	if got := <-res; got.status != http.StatusOK || got.body != "standby" {
		t.Fatalf("after the re-arm: %d %q %v, want 200 from the standby", got.status, got.body, got.err)
	}
}

// TestFailoverHoldBoundedByHeldMax: a failover hold older than HeldMax (a
// monitor that died mid-failover) no longer holds: the held request goes
// to the placement's address.
func TestFailoverHoldBoundedByHeldMax(t *testing.T) {
	a := newBackendServer(t, 2, 0, "primary", nil)
	r := newRig(t, a.port, func(c *Config) {
		c.HeldMax = 200 * time.Millisecond
		c.Services[0].Hold = time.Minute
	}, failingOver(place(a.addr, 1)))
	waitFor(t, "the failover hold", func() bool { return r.placementHeld() == 1 })
	res := r.asyncAnswer("web.test")
	if got := <-res; got.err != nil || got.status != http.StatusOK || got.body != "primary" {
		t.Fatalf("request under an expired failover hold: %d %q %v, want 200 from the primary", got.status, got.body, got.err)
	}
	if r.placementHeld() != 0 || r.outcomes(OutcomeForwarded) != 1 {
		t.Errorf("placement held %v, forwarded %v; want 0 and 1", r.placementHeld(), r.outcomes(OutcomeForwarded))
	}
}

// A reason is made safe for a header: no control characters, bounded.
func TestHeaderText(t *testing.T) {
	if got := headerText("stuck: a\r\nb\tc"); got != "stuck: a  b c" {
		t.Errorf("headerText = %q", got)
	}
	long := string(make([]byte, 300)) + "é"
	if got := headerText(long); len(got) > maxHeaderText {
		t.Errorf("headerText of %d bytes = %d bytes, want at most %d", len(long), len(got), maxHeaderText)
	}
}
