package recover

import (
	"strings"
	"testing"
)

// holdStep is one command of a failover and the placement it must leave.
type holdStep struct {
	cmd         string
	failingOver bool
	unavailable string // a prefix of Placement.Unavailable; "" for none
	where       string
}

// runHold runs steps on a fresh harness of svc, checking the placement's
// failover hold after each.
func runHold(t *testing.T, svc string, steps []holdStep) {
	t.Helper()
	h := &harness{t: t}
	h.run(svc)
	for _, s := range steps {
		if out := h.run(s.cmd); strings.HasPrefix(out, "error") {
			t.Fatalf("%s: %s", s.cmd, out)
		}
		p := h.m.Record().Placement
		if p.FailingOver != s.failingOver || p.Where != s.where ||
			(s.unavailable == "") != (p.Unavailable == "") || !strings.HasPrefix(p.Unavailable, s.unavailable) {
			t.Fatalf("after %q: placement at %s failing_over=%v unavailable=%q, want at %s failing_over=%v unavailable %q...",
				s.cmd, p.Where, p.FailingOver, p.Unavailable, s.where, s.failingOver, s.unavailable)
		}
	}
}

// A failover holds its placement from the confirmed failure until the DNS
// flip places the service on the standby; the confirm step itself does not.
func TestFailoverHoldFromConfirmToFlip(t *testing.T) {
	runHold(t, "service mode=warm", []holdStep{
		{cmd: `trigger source=monitor reason="3 probes failed" at=0s`, where: AtPrimary},
		{cmd: `done at=120ms`, failingOver: true, where: AtPrimary}, // confirmed: fence runs
		{cmd: `done at=300ms`, failingOver: true, where: AtPrimary},
		{cmd: `done at=350ms address=10.200.1.100`, failingOver: true, where: AtPrimary},
		{cmd: `done at=420ms`, failingOver: true, where: AtPrimary},
		{cmd: `done at=480ms note="flipped"`, where: AtStandby}, // the flip releases
		{cmd: `done at=600ms`, where: AtStandby},
	})
}

// A failover the standby refuses for capacity after the fence is not held
// forever: the placement says unavailable with the reason; a re-arm holds
// it again, and the recovery releases it.
func TestFailoverHoldUnprotectedThenRearmed(t *testing.T) {
	runHold(t, "service mode=cold", []holdStep{
		{cmd: `trigger source=monitor reason="vm down" at=0s`, where: AtPrimary},
		{cmd: `done at=100ms`, failingOver: true, where: AtPrimary},
		{cmd: `done at=200ms`, failingOver: true, where: AtPrimary},
		{cmd: `fail at=300ms err="unprotected: no capacity" permanent unprotected="no capacity (needs 512 MiB, 128 MiB free)"`,
			unavailable: "unprotected: no capacity (needs 512 MiB, 128 MiB free)", where: AtPrimary},
		{cmd: `trigger source=monitor reason="capacity freed" at=10s`, failingOver: true, where: AtPrimary},
		{cmd: `done at=11s address=10.200.1.101`, failingOver: true, where: AtPrimary},
		{cmd: `done at=12s`, failingOver: true, where: AtPrimary},
		{cmd: `done at=13s`, where: AtStandby},
	})
}

// A failover stuck after the fence says unavailable (the primary cannot
// serve); an operator's reset whose check finds the primary serving again
// clears it.
func TestFailoverHoldStuckAfterFenceThenReset(t *testing.T) {
	runHold(t, "service mode=warm", []holdStep{
		{cmd: `trigger source=monitor reason="vm down" at=0s`, where: AtPrimary},
		{cmd: `done at=100ms`, failingOver: true, where: AtPrimary},
		{cmd: `done at=200ms`, failingOver: true, where: AtPrimary},
		{cmd: `fail at=300ms err="agent unreachable" permanent`, unavailable: "stuck: step activate failed", where: AtPrimary},
		{cmd: `reset at=1s reason="primary back"`, unavailable: "stuck: ", where: AtPrimary},
		{cmd: `done at=1100ms`, where: AtPrimary}, // the primary passed its check
	})
}

// A failover stuck before anything fenced the primary (fence: none) drops
// the hold and says nothing: the proxies' own checks decide, as before.
func TestFailoverHoldStuckUnfencedSaysNothing(t *testing.T) {
	runHold(t, "service mode=warm confirm=none fence=none", []holdStep{
		{cmd: `trigger source=monitor reason="vm down" at=0s`, failingOver: true, where: AtPrimary},
		{cmd: `fail at=300ms err="agent unreachable" permanent`, where: AtPrimary},
	})
}
