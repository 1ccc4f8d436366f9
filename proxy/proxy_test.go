package proxy

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRouting(t *testing.T) {
	a := newBackendServer(t, 2, 0, "primary", nil)
	r := newRig(t, a.port, nil, place(a.addr, 1))
	waitFor(t, "the first placement", func() bool { b, _ := r.p.byName["web"].current(); return b != nil })

	tests := []struct {
		host   string
		status int
		body   string
	}{
		{"web.test", http.StatusOK, "primary"},
		{"WEB.Test", http.StatusOK, "primary"},
		{"web.test.", http.StatusOK, "primary"},
		{"web.test:8080", http.StatusOK, "primary"},
		{"web", http.StatusMisdirectedRequest, ""},
		{"other.test", http.StatusMisdirectedRequest, ""},
		{"127.0.0.2", http.StatusMisdirectedRequest, ""},
		{"", http.StatusMisdirectedRequest, ""},
	}
	for _, tc := range tests {
		t.Run(tc.host, func(t *testing.T) {
			status, body, _ := r.get(t, tc.host)
			if status != tc.status {
				t.Fatalf("Host %q: status %d, want %d (%s)", tc.host, status, tc.status, body)
			}
			if tc.body != "" && body != tc.body {
				t.Fatalf("Host %q: body %q, want %q", tc.host, body, tc.body)
			}
		})
	}
	if got := r.outcomes(OutcomeForwarded); got != 4 {
		t.Errorf("forwarded requests = %v, want 4", got)
	}
}

func TestConnectRefused(t *testing.T) {
	a := newBackendServer(t, 2, 0, "primary", nil)
	r := newRig(t, a.port, nil, place(a.addr, 1))
	waitFor(t, "the first placement", func() bool { b, _ := r.p.byName["web"].current(); return b != nil })
	status, _, _ := r.do(t, http.MethodConnect, "web.test", nil)
	if status != http.StatusMethodNotAllowed {
		t.Fatalf("CONNECT: status %d, want 405", status)
	}
}

// TestGetDoesNotWaitForProbe: a GET is forwarded while its probe runs;
// a POST waits for the probe.
func TestGetDoesNotWaitForProbe(t *testing.T) {
	a := newBackendServer(t, 2, 0, "primary", nil)
	r := newRig(t, a.port, func(c *Config) { c.Services[0].ProbeTimeout = 5 * time.Second }, place(a.addr, 1))
	waitFor(t, "the first placement", func() bool { b, _ := r.p.byName["web"].current(); return b != nil })
	gate := make(chan struct{})
	r.ping.mu.Lock()
	r.ping.gate = gate
	r.ping.mu.Unlock()
	if status, body, _ := r.get(t, "web.test"); status != http.StatusOK || body != "primary" {
		t.Fatalf("GET with its probe pending: %d %q, want 200 primary", status, body)
	}
	posted := make(chan int, 1)
	go func() { s, _, _ := r.do(t, http.MethodPost, "web.test", strings.NewReader("x")); posted <- s }()
	select {
	case s := <-posted:
		t.Fatalf("POST answered (%d) before its probe did", s)
	case <-time.After(20 * time.Millisecond):
	}
	close(gate)
	if s := <-posted; s != http.StatusOK {
		t.Fatalf("POST after the probe: %d, want 200", s)
	}
	if n := len(r.mon.reported()); n != 0 {
		t.Fatalf("%d suspect reports for a slow but answered probe, want 0", n)
	}
}

func TestProbeSharedAcrossConcurrentRequests(t *testing.T) {
	a := newBackendServer(t, 2, 0, "primary", nil)
	r := newRig(t, a.port, nil, place(a.addr, 1))
	waitFor(t, "the first placement", func() bool { b, _ := r.p.byName["web"].current(); return b != nil })

	// Hold every ping at a gate until all requests wait on it.
	gate := make(chan struct{})
	r.ping.mu.Lock()
	r.ping.gate = gate
	r.ping.mu.Unlock()
	b, _ := r.p.byName["web"].current()

	const n = 8
	var wg sync.WaitGroup
	shared := make(chan bool, n)
	for range n {
		wg.Go(func() {
			_, how, err := b.probe(context.Background(), r.ping, probeLimits{floor: time.Second, limit: time.Second}, 0)
			if err != nil {
				t.Errorf("probe: %v", err)
			}
			shared <- how == probeJoined
		})
	}
	waitFor(t, "the first ping", func() bool { return r.ping.count() == 1 })
	time.Sleep(20 * time.Millisecond) // let the others join the flight
	close(gate)
	wg.Wait()
	close(shared)
	joined := 0
	for s := range shared {
		if s {
			joined++
		}
	}
	if got := r.ping.count(); got >= n {
		t.Fatalf("%d pings for %d concurrent probes; want them shared", got, n)
	}
	if joined == 0 {
		t.Fatal("no probe joined another's flight")
	}
}

func TestHoldThenReleaseToNewBackend(t *testing.T) {
	a := newBackendServer(t, 2, 0, "primary", nil)
	sb := newBackendServer(t, 3, a.port, "standby", nil)
	r := newRig(t, a.port, nil, place(a.addr, 1))
	// The monitor moves the service to the standby when told.
	r.mon.onReport = func(string, SuspectReport) {
		go func() {
			time.Sleep(30 * time.Millisecond)
			r.mon.publish(place(sb.addr, 2))
		}()
	}
	waitFor(t, "the first placement", func() bool { b, _ := r.p.byName["web"].current(); return b != nil })
	if _, body, _ := r.get(t, "web.test"); body != "primary" {
		t.Fatalf("before the failure: body %q, want primary", body)
	}

	r.ping.setDead(a.addr, true)
	a.Close() // the host is gone: no ICMP, no TCP
	const n = 10
	var wg sync.WaitGroup
	bodies := make(chan string, n)
	for range n {
		wg.Go(func() {
			status, body, _ := r.get(t, "web.test")
			if status != http.StatusOK {
				t.Errorf("status %d during failover (%s)", status, body)
			}
			bodies <- body
		})
	}
	wg.Wait()
	close(bodies)
	for body := range bodies {
		if body != "standby" {
			t.Errorf("body %q after the placement change, want standby", body)
		}
	}
	if rep := r.mon.reported(); len(rep) != 1 || !strings.Contains(rep[0], a.addr.String()) {
		t.Errorf("suspect reports %q, want exactly one for %s", rep, a.addr)
	}
	if got := r.outcomes(OutcomeForwarded) + r.outcomes(OutcomeRetried); got != n+1 {
		t.Errorf("forwarded and retried = %v, want %d", got, n+1)
	}
	if r.held() != 0 {
		t.Errorf("held gauge %v after release, want 0", r.held())
	}
	// A probe miss or the refused connection, whichever comes first.
	if got := value(r.p.m.suspects.WithLabelValues("web", "probe")) + value(r.p.m.suspects.WithLabelValues("web", "connection")); got != 1 {
		t.Errorf("understudy_proxy_suspects_total = %v, want 1", got)
	}
}

func TestBlipReleasesToSameBackend(t *testing.T) {
	a := newBackendServer(t, 2, 0, "primary", nil)
	r := newRig(t, a.port, nil, place(a.addr, 1))
	waitFor(t, "the first placement", func() bool { b, _ := r.p.byName["web"].current(); return b != nil })

	r.ping.setDead(a.addr, true)
	result := make(chan string, 1)
	go func() { // a POST waits for its probe, so it is held
		status, body, _ := r.do(t, http.MethodPost, "web.test", strings.NewReader("x"))
		if status != http.StatusOK {
			t.Errorf("status %d after a blip (%s)", status, body)
		}
		result <- body
	}()
	waitFor(t, "the request to be held", func() bool { return r.held() == 1 })
	// The report waits for one more echo (answersAgain): it must go
	// unanswered too before the blip ends, or nothing is reported.
	waitFor(t, "the suspect report", func() bool { return len(r.mon.reported()) == 1 })
	r.ping.setDead(a.addr, false)
	if body := <-result; body != "primary" {
		t.Fatalf("body %q after the blip, want primary", body)
	}
	if got := len(r.mon.reported()); got != 1 {
		t.Errorf("%d suspect reports, want 1", got)
	}
}

func TestHoldTimeout(t *testing.T) {
	a := newBackendServer(t, 2, 0, "primary", nil)
	r := newRig(t, a.port, func(c *Config) { c.Services[0].Hold = 50 * time.Millisecond }, place(a.addr, 1))
	waitFor(t, "the first placement", func() bool { b, _ := r.p.byName["web"].current(); return b != nil })

	r.ping.setDead(a.addr, true)
	a.Close()
	status, _, h := r.get(t, "web.test")
	if status != http.StatusServiceUnavailable {
		t.Fatalf("status %d after the hold, want 503", status)
	}
	if h.Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q, want 1 (the hold rounded up to a second)", h.Get("Retry-After"))
	}
	if got := r.outcomes(OutcomeHoldTimeout); got != 1 {
		t.Errorf("hold_timeout outcomes = %v, want 1", got)
	}
}

func TestQueueBound(t *testing.T) {
	a := newBackendServer(t, 2, 0, "primary", nil)
	sb := newBackendServer(t, 3, a.port, "standby", nil)
	r := newRig(t, a.port, func(c *Config) { c.Queue = 2 }, place(a.addr, 1))
	waitFor(t, "the first placement", func() bool { b, _ := r.p.byName["web"].current(); return b != nil })

	r.ping.setDead(a.addr, true)
	a.Close()
	statuses := make(chan int, 2)
	for range 2 {
		go func() { s, _, _ := r.get(t, "web.test"); statuses <- s }()
	}
	waitFor(t, "two held requests", func() bool { return r.held() == 2 })
	status, _, h := r.get(t, "web.test")
	if status != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
		t.Fatalf("third request: status %d Retry-After %q, want 503 with Retry-After", status, h.Get("Retry-After"))
	}
	if got := r.outcomes(OutcomeQueueFull); got != 1 {
		t.Errorf("queue_full outcomes = %v, want 1", got)
	}
	r.mon.publish(place(sb.addr, 2)) // the failover is done: the held two go through
	for range 2 {
		if s := <-statuses; s != http.StatusOK {
			t.Errorf("held request: status %d, want 200", s)
		}
	}
}

// TestICMPFilteredHost: a backend that drops ICMP but serves TCP is held
// briefly once, then served without probes until its placement changes.
func TestICMPFilteredHost(t *testing.T) {
	a := newBackendServer(t, 2, 0, "primary", nil)
	r := newRig(t, a.port, nil, place(a.addr, 1))
	waitFor(t, "the first placement", func() bool { b, _ := r.p.byName["web"].current(); return b != nil })
	r.ping.setDead(a.addr, true)
	for i := range 3 { // POSTs wait for their probe
		if status, body, _ := r.do(t, http.MethodPost, "web.test", strings.NewReader("x")); status != http.StatusOK || body != "primary" {
			t.Fatalf("request %d: %d %q, want 200 primary", i, status, body)
		}
	}
	if got := len(r.mon.reported()); got != 1 {
		t.Errorf("%d suspect reports, want 1 (then no more probing)", got)
	}
	b, _ := r.p.byName["web"].current()
	if b == nil || !b.noProbe {
		t.Fatal("backend still probed after ICMP proved filtered")
	}
}
