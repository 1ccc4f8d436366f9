package report

import (
	"testing"
	"time"

	"github.com/understudy/understudy/drill"
)

// TestClassifyFailures labels failed requests by when they happened and
// their kind of error, and the counts say how many the outage did not cause.
func TestClassifyFailures(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	const primary, standby = "10.200.0.11", "10.200.1.101"
	samples := []drill.Sample{
		{Path: drill.PathDNS, Start: at(-900), Duration: 300 * time.Millisecond, Addr: primary, Err: "dial tcp 10.200.0.11:80: i/o timeout"},
		{Path: drill.PathDNS, Start: at(-100), Duration: 300 * time.Millisecond, Addr: primary, Err: "dial tcp 10.200.0.11:80: i/o timeout"}, // in flight
		{Path: drill.PathDNS, Start: at(50), Duration: 2 * time.Millisecond, Addr: primary, Err: "dial tcp 10.200.0.11:80: connect: connection refused"},
		{Path: drill.PathDNS, Start: at(400), Duration: 5 * time.Millisecond, Addr: standby, OK: true, Backend: "web", New: true},
		{Path: drill.PathDNS, Start: at(1300), Duration: 300 * time.Millisecond, Addr: standby, Err: "dial tcp 10.200.1.101:80: i/o timeout"},
		{Path: drill.PathProxy, Start: at(10), Duration: 3 * time.Millisecond, Err: "502 Bad Gateway"},
	}
	res := &drill.Result{Via: drill.ViaBoth}
	drill.Analyze(res, t0, drill.Timeline{Samples: samples, Primary: primary, Body: "web-vm"})
	got := res.Failures
	want := []struct{ when, cause, backend string }{
		{drill.FailedBefore, "connect-timeout", "primary"},
		{drill.FailedOutage, "connect-timeout", "primary"},
		{drill.FailedOutage, "refused", "primary"},
		{drill.FailedAfter, "connect-timeout", "new"},
		{drill.FailedOutage, "status", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("%d failures, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if g := got[i]; g.When != w.when || g.Cause != w.cause || g.Backend != w.backend {
			t.Errorf("failure %d = %s/%s/%s, want %s/%s/%s", i, g.When, g.Cause, g.Backend, w.when, w.cause, w.backend)
		}
	}
	if c := res.Requests.DNS; c.Failed != 4 || c.FailedBefore != 1 || c.FailedAfterRecovery != 1 {
		t.Errorf("DNS counts %+v, want 4 failed: 1 before the injection, 1 after recovery", c)
	}
	if s := failureSummary(res.Failures, drill.PathDNS); s != "1 before injection (1 connect-timeout to primary); 2 outage (1 connect-timeout to primary, 1 refused to primary); 1 after recovery (1 connect-timeout to new)" {
		t.Errorf("summary %q", s)
	}
}
