package proxy

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestLostEchoIsNotAnAlarm: one lost echo is confirmed by a second one,
// which answers: no hold, no report.
func TestLostEchoIsNotAnAlarm(t *testing.T) {
	a := newBackendServer(t, 2, 0, "primary", nil)
	r := newRig(t, a.port, nil, place(a.addr, 1))
	waitFor(t, "the first placement", func() bool { b, _ := r.p.byName["web"].current(); return b != nil })
	r.ping.dropNext(1)
	if status, body, _ := r.do(t, http.MethodPost, "web.test", strings.NewReader("x")); status != http.StatusOK || body != "primary" {
		t.Fatalf("POST after a lost echo: %d %q, want 200 primary", status, body)
	}
	if got := r.ping.count(); got != 2 {
		t.Errorf("%d echoes sent, want 2 (the lost one and its confirmation)", got)
	}
	assertNoAlarm(t, r)
	if got := value(r.p.m.probeCleared.WithLabelValues("web", "probe")); got != 1 {
		t.Errorf("misses cleared by a probe = %v, want 1", got)
	}
	if got := value(r.p.m.probeMisses.WithLabelValues("web")); got != 1 {
		t.Errorf("probe misses = %v, want 1", got)
	}
}

// TestMissClearedByResponse: the backend answered a request while the
// echo was out, so the miss is cleared without a second echo.
func TestMissClearedByResponse(t *testing.T) {
	a := newBackendServer(t, 2, 0, "primary", nil)
	r := newRig(t, a.port, func(c *Config) { c.Services[0].ProbeTimeout = 300 * time.Millisecond }, place(a.addr, 1))
	waitFor(t, "the first placement", func() bool { b, _ := r.p.byName["web"].current(); return b != nil })
	r.ping.dropNext(2)
	if status, body, _ := r.get(t, "web.test"); status != http.StatusOK || body != "primary" {
		t.Fatalf("GET: %d %q, want 200 primary", status, body)
	}
	waitFor(t, "the miss to be cleared", func() bool {
		return value(r.p.m.probeCleared.WithLabelValues("web", "request")) == 1
	})
	if got := r.ping.count(); got != 1 {
		t.Errorf("%d echoes sent, want 1 (the response cleared the miss)", got)
	}
	assertNoAlarm(t, r)
}

// TestFrozenBackendConfirmedAndReported: a backend that answers neither
// echo nor request is suspect after two echoes: held, reported once, and
// the held GET goes to the standby.
func TestFrozenBackendConfirmedAndReported(t *testing.T) {
	frozen := make(chan struct{})
	a := newBackendServer(t, 2, 0, "primary", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-frozen }))
	t.Cleanup(func() { close(frozen) })
	sb := newBackendServer(t, 3, a.port, "standby", nil)
	r := newRig(t, a.port, nil, place(a.addr, 1))
	r.mon.onReport = func(string, SuspectReport) { go r.mon.publish(place(sb.addr, 2)) }
	waitFor(t, "the first placement", func() bool { b, _ := r.p.byName["web"].current(); return b != nil })
	r.ping.setDead(a.addr, true)
	if status, body, _ := r.get(t, "web.test"); status != http.StatusOK || body != "standby" {
		t.Fatalf("GET to a frozen backend: %d %q, want 200 standby", status, body)
	}
	if rep := r.mon.reported(); len(rep) != 1 {
		t.Errorf("suspect reports %q, want 1", rep)
	}
	if got := value(r.p.m.suspects.WithLabelValues("web", "probe")); got != 1 {
		t.Errorf("probe suspects = %v, want 1", got)
	}
	if got := value(r.p.m.probeMisses.WithLabelValues("web")); got != 2 {
		t.Errorf("probe misses = %v, want 2 (the first echo and its confirmation)", got)
	}
	for _, by := range []string{"probe", "request"} {
		if got := value(r.p.m.probeCleared.WithLabelValues("web", by)); got != 0 {
			t.Errorf("misses cleared by %s = %v, want 0", by, got)
		}
	}
}

// TestProbeTimeoutAdapts: the first echo's timeout is the floor for a
// fast host, and grows after a slow answer instead of raising alarms.
func TestProbeTimeoutAdapts(t *testing.T) {
	a := newBackendServer(t, 2, 0, "primary", nil)
	const floor = 3 * time.Millisecond
	r := newRig(t, a.port, func(c *Config) {
		c.ProbeFloor = floor
		c.Services[0].ProbeTimeout = time.Second
	}, place(a.addr, 1))
	waitFor(t, "the first placement", func() bool { b, _ := r.p.byName["web"].current(); return b != nil })
	post := func() {
		t.Helper()
		if status, _, _ := r.do(t, http.MethodPost, "web.test", strings.NewReader("x")); status != http.StatusOK {
			t.Fatalf("POST: %d, want 200", status)
		}
	}
	timeout := func() time.Duration {
		return time.Duration(value(r.p.m.probeTimeout.WithLabelValues("web")) * float64(time.Second))
	}
	post()
	if got := timeout(); got != time.Second {
		t.Errorf("first probe's timeout %v, want the cap 1s (no RTT yet)", got)
	}
	post()
	if got := timeout(); got != floor {
		t.Errorf("timeout after an instant answer %v, want the floor %v", got, floor)
	}
	r.ping.setDelay(40 * time.Millisecond) // slower than the floor
	post()
	if got := value(r.p.m.probeCleared.WithLabelValues("web", "probe")); got != 1 {
		t.Errorf("misses cleared by a probe = %v, want 1 (the slow echo's confirmation)", got)
	}
	post()
	if got := timeout(); got <= floor {
		t.Errorf("timeout after a 40 ms answer %v, want above the floor %v", got, floor)
	}
	assertNoAlarm(t, r)
}

// assertNoAlarm checks that nothing was held or reported.
func assertNoAlarm(t *testing.T, r *rig) {
	t.Helper()
	if rep := r.mon.reported(); len(rep) != 0 {
		t.Errorf("suspect reports %q, want none", rep)
	}
	for _, by := range []string{"probe", "connection", "move"} {
		if got := value(r.p.m.suspects.WithLabelValues("web", by)); got != 0 {
			t.Errorf("suspects by %s = %v, want 0", by, got)
		}
	}
	if got := value(r.p.m.holdSeconds.WithLabelValues("web").(prometheus.Metric)); got != 0 {
		t.Errorf("%v requests held, want 0", got)
	}
}

// TestResponseKeepsProbeFresh: a response from the backend, like an
// answered echo, spares the next GETs within ProbeFresh a probe.
func TestResponseKeepsProbeFresh(t *testing.T) {
	a := newBackendServer(t, 2, 0, "primary", nil)
	r := newRig(t, a.port, func(c *Config) {
		c.ProbeFresh = time.Hour
		c.Services[0].ProbeTimeout = 300 * time.Millisecond
	}, place(a.addr, 1))
	waitFor(t, "the first placement", func() bool { b, _ := r.p.byName["web"].current(); return b != nil })
	r.ping.dropNext(2) // no echo answers: only the response can clear the probe
	if status, _, _ := r.get(t, "web.test"); status != http.StatusOK {
		t.Fatalf("first GET: %d, want 200", status)
	}
	waitFor(t, "the first probe to be cleared", func() bool {
		return value(r.p.m.probeCleared.WithLabelValues("web", "request")) == 1
	})
	sent := r.ping.count()
	for range 5 {
		if status, _, _ := r.get(t, "web.test"); status != http.StatusOK {
			t.Fatalf("GET: %d, want 200", status)
		}
	}
	if got := r.ping.count(); got != sent {
		t.Errorf("%d more echoes after fresh responses, want 0", got-sent)
	}
	assertNoAlarm(t, r)
}

// TestHeldMissNotReportedWhenEchoReturns: two lost echoes confirm the miss
// and hold the request, but the third echo, sent before the report, is
// answered: the monitor is not told, and the hold ends as a blip.
func TestHeldMissNotReportedWhenEchoReturns(t *testing.T) {
	a := newBackendServer(t, 2, 0, "primary", nil)
	r := newRig(t, a.port, nil, place(a.addr, 1))
	waitFor(t, "the first placement", func() bool { b, _ := r.p.byName["web"].current(); return b != nil })
	r.ping.dropNext(2)
	if status, body, _ := r.do(t, http.MethodPost, "web.test", strings.NewReader("x")); status != http.StatusOK || body != "primary" {
		t.Fatalf("POST: %d %q, want 200 primary after the blip", status, body)
	}
	waitFor(t, "the held miss to be cleared", func() bool {
		return value(r.p.m.probeCleared.WithLabelValues("web", "hold")) == 1
	})
	if rep := r.mon.reported(); len(rep) != 0 {
		t.Errorf("suspect reports %q, want none", rep)
	}
	if got := value(r.p.m.suspects.WithLabelValues("web", "probe")); got != 1 {
		t.Errorf("probe suspects = %v, want 1 (it was held)", got)
	}
}

// TestHeldMissReportedDespiteLateResponse: the third echo goes unanswered
// while a response is read during the hold (one the backend may have sent
// long before): answersAgain still says the backend is silent, so the
// monitor is told; an answered echo alone clears it.
func TestHeldMissReportedDespiteLateResponse(t *testing.T) {
	a := newBackendServer(t, 2, 0, "primary", nil)
	r := newRig(t, a.port, nil, place(a.addr, 1))
	waitFor(t, "the first placement", func() bool { b, _ := r.p.byName["web"].current(); return b != nil })
	s := r.p.byName["web"]
	b, _ := s.current()
	b.sawResponse()
	r.ping.dropNext(1)
	if r.p.answersAgain(s, b) {
		t.Errorf("answersAgain = true with the third echo unanswered, want false (a response read late is not life)")
	}
	if got := value(r.p.m.probeCleared.WithLabelValues("web", "hold")); got != 0 {
		t.Errorf("misses cleared by the hold = %v, want 0", got)
	}
	if !r.p.answersAgain(s, b) {
		t.Errorf("answersAgain = false with the echo answered, want true")
	}
	if got := value(r.p.m.probeCleared.WithLabelValues("web", "hold")); got != 1 {
		t.Errorf("misses cleared by the hold = %v, want 1", got)
	}
}
