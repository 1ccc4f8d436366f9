package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/tcpcut"
	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/playbooks"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/standby"
)

// The HA tests run three monitors in-process over one real three-member
// etcd cluster (package ha/hatest), with primaries at 10.200.0.168 (the
// kill tests, one after the other) and 10.200.0.169 (partition), service
// names t-e2e-ha-*, standby containers from the e2e agent pool.

// killPoint is a moment of a failover at which the leader dies: the first
// save showing step kind in status kills it inside the save hook (the step
// is persisted as running and has not acted yet).
//
// afterActivate kills it instead inside its agent client, right after the
// agent started the standby container and before the leader learns of it;
// afterDNS inside its DNS client, right after BIND applied the swap;
// atDetection right after the primary stopped, before any monitor
// confirmed the failure. Each is an event, not a moment in time, so a kill
// can never come too late.
type killPoint struct {
	kind          playbooks.Kind
	status        recover.StepStatus
	afterActivate bool
	afterDNS      bool
	atDetection   bool
}

func (k killPoint) String() string {
	if k.atDetection {
		return "detection (primary stopped, no incident yet)"
	}
	s := fmt.Sprintf("%s %s", k.kind, k.status)
	if k.afterActivate {
		s += ", the agent started the container"
	}
	if k.afterDNS {
		s += ", BIND applied the swap"
	}
	return s
}

// matches reports whether rec is an open incident at this point.
func (k killPoint) matches(rec recover.Record) bool {
	inc := rec.Incident
	if !inc.Open() {
		return false
	}
	for i, st := range inc.Steps {
		if st.Kind == k.kind && st.Status == k.status && (k.status != recover.StatusRunning || i == inc.Current) {
			return true
		}
	}
	return false
}

// killPoints are the phases of a cold failover (playbooks/defaults/cold.yaml)
// at which TestIntegrationHAKillLeaderEachPhase kills the leader; the
// moment of detection and the last step, notify, have their own tests.
var killPoints = []killPoint{
	{kind: playbooks.Confirm, status: recover.StatusRunning},
	{kind: playbooks.Fence, status: recover.StatusRunning},
	{kind: playbooks.Activate, status: recover.StatusRunning, afterActivate: true},
	{kind: playbooks.WaitHealthy, status: recover.StatusRunning},
	{kind: playbooks.DNSReplace, status: recover.StatusRunning},
	{kind: playbooks.DNSReplace, status: recover.StatusRunning, afterDNS: true},
}

// TestIntegrationHAKillLeaderEachPhase runs three monitors over one etcd
// cluster and one world, checks that exactly one leads, then, for each
// phase of a failover, kills the leader there (its etcd client closed
// first, so its lease must expire) and checks that the incident completes
// exactly once under a new leader: the service ends on the standby, BIND
// holds the standby's address after one change of the zone, the incident is
// closed once, no monitor but the new leader saved anything after the
// crash, and the standby agent refuses the dead leader's epoch. Between
// phases the primary is restored, the service reset through a follower
// (which forwards to the leader), and the dead monitor restarted.
func TestIntegrationHAKillLeaderEachPhase(t *testing.T) {
	killLeaderRounds(t, killPoints)
}

// TestIntegrationHAKillLeaderDuringNotify kills the leader right after the
// DNS change, when the record shows the notify step running (the default
// playbooks' last step, not marked idempotent), and expects the new leader
// to complete the incident like at every other phase. It reuses the
// primary address of TestIntegrationHAKillLeaderEachPhase (the two run one
// after the other).
func TestIntegrationHAKillLeaderDuringNotify(t *testing.T) {
	killLeaderRounds(t, []killPoint{{kind: playbooks.Notify, status: recover.StatusRunning}})
}

// TestIntegrationHAKillLeaderAtDetection kills the leader right after the
// primary stopped, before any monitor confirmed the failure: the followers
// detect it while the dead leader's key still holds, and the new leader
// must still fail the service over, once. It reuses the primary address of
// TestIntegrationHAKillLeaderEachPhase (they run one after the other).
func TestIntegrationHAKillLeaderAtDetection(t *testing.T) {
	killLeaderRounds(t, []killPoint{{atDetection: true}})
}

// killLeaderRounds builds one world with three monitors and runs one round
// of killAt per kill point.
func killLeaderRounds(t *testing.T, points []killPoint) {
	h := newHALab(t, 168, map[string]string{"ha-kill": "cold"})
	s := h.w.services[0]
	for _, name := range []string{"mon-a", "mon-b", "mon-c"} {
		h.start(name)
	}
	wctx, stopWatch := context.WithCancel(context.Background())
	splitBrains := h.splitBrainWatch(wctx)
	defer stopWatch()

	var takeovers []time.Duration
	for i, kp := range points {
		took := h.killAt(i, kp, s)
		takeovers = append(takeovers, took)
	}
	stopWatch()
	if seen := splitBrains(); len(seen) > 0 {
		t.Errorf("two live monitors reported leading at once: %v", seen)
	}
	var sum time.Duration
	for _, d := range takeovers {
		sum += d
	}
	t.Logf("takeover (crash -> new leader's first save of the incident), lease TTL %s: %v, mean %s",
		haTTL, takeovers, (sum / time.Duration(len(takeovers))).Round(time.Millisecond))
}

// killAt runs one phase of TestIntegrationHAKillLeaderEachPhase and
// returns the takeover time.
func (h *haLab) killAt(round int, kp killPoint, s svc) time.Duration {
	t := h.t
	ctx, cancel := context.WithTimeout(context.Background(), 2*failoverBound)
	defer cancel()
	lctx, lcancel := context.WithTimeout(ctx, haBound)
	leader, oldEpoch, err := h.awaitLeader(lctx)
	lcancel()
	if err != nil {
		t.Fatalf("round %d (%s): %v", round, kp, err)
	}
	if _, err := leader.r.waitService(ctx, s.Name, func(st api.ServiceStatus) bool {
		return st.State == "primary" && st.Standby.Prepared
	}); err != nil {
		t.Fatalf("round %d (%s): standby container never prepared by %s: %v", round, kp, leader.name, err)
	}
	if err := h.awaitUp(ctx, s.Name); err != nil {
		t.Fatalf("round %d (%s): %v", round, kp, err)
	}
	before, err := h.record(ctx, s.Name)
	if err != nil {
		t.Fatalf("round %d: read the record: %v", round, err)
	}
	serial, err := soaSerial(ctx, h.w.lab.DNSServer, h.w.lab.Zone)
	if err != nil {
		t.Fatal(err)
	}
	h.dns.flips.Store(0)
	t.Logf("round %d: %s leads (epoch %d); killing it at %s", round, leader.name, oldEpoch, kp)

	var crashed <-chan haCrash
	if !kp.atDetection {
		crashed = h.arm(leader.name, kp.afterActivate, kp.afterDNS, kp.matches)
	}
	if err := h.w.hostA.Stop(ctx, s.VM, 0); err != nil {
		t.Fatalf("force-stop primary: %v", err)
	}
	var c haCrash
	if kp.atDetection {
		c.at = h.crash(leader)
	} else {
		select {
		case c = <-crashed:
		case <-ctx.Done():
			t.Fatalf("round %d: the incident never reached %s on %s: %v", round, kp, leader.name, ctx.Err())
		}
	}
	leader.r.stop(t) // reap: Run returns once its goroutines stopped
	var incID string
	if c.rec.Incident != nil {
		incID = c.rec.Incident.ID
		var last recover.Record
		for _, sv := range h.savesSince(time.Time{}) {
			if sv.mon == leader.name && sv.at.Before(c.at) {
				last = sv.rec
			}
		}
		if !last.Incident.Open() {
			t.Fatalf("round %d: the incident closed before %s was killed; the kill came too late", round, leader.name)
		}
		t.Logf("round %d: killed %s during incident %s at step %s (%s)", round, leader.name, incID,
			last.Incident.Steps[min(last.Incident.Current, len(last.Incident.Steps)-1)].Kind, kp)
	} else {
		t.Logf("round %d: killed %s at %s", round, leader.name, kp)
	}

	lctx, lcancel = context.WithTimeout(ctx, haBound)
	next, newEpoch, err := h.awaitLeader(lctx)
	lcancel()
	if err != nil {
		t.Fatalf("round %d: after killing %s: %v", round, leader.name, err)
	}
	wctx, wcancel := context.WithTimeout(ctx, haBound) // a failover takes ~3 s here
	st, err := next.r.waitService(wctx, s.Name, func(st api.ServiceStatus) bool {
		return st.State == "on-standby" || st.State == "stuck"
	})
	wcancel()
	if err != nil {
		t.Fatalf("round %d: the service never reached on-standby under %s after %s was killed at %s: %v", round, next.name, leader.name, kp, err)
	}
	if st.State == "stuck" {
		t.Fatalf("round %d: the incident stuck under %s after %s was killed at %s: %s; steps %s",
			round, next.name, leader.name, kp, st.LastIncident.Stuck, stepNotes(st.LastIncident))
	}
	if incID == "" && st.LastIncident != nil {
		incID = st.LastIncident.ID
	}
	took := h.checkOnce(ctx, round, incID, c.at, leader, next, before, serial, st)
	if newEpoch <= oldEpoch {
		t.Errorf("round %d: new leader's epoch %d is not above the dead leader's %d", round, newEpoch, oldEpoch)
	}

	h.restore(ctx, round, s, next)
	h.staleEpochRefused(ctx, round, s.Name, oldEpoch, newEpoch)
	h.start(leader.name) // the dead monitor comes back, as a follower
	return took
}

// checkOnce asserts that incident incID, whose leader died at crashAt,
// completed exactly once under next and returns the takeover time.
func (h *haLab) checkOnce(ctx context.Context, round int, incID string, crashAt time.Time, dead, next *haMon, before recover.Record, serial uint32, st api.ServiceStatus) time.Duration {
	t := h.t
	s := h.w.services[0]
	if _, err := h.w.answersFromStandby(ctx, s); err != nil {
		t.Errorf("round %d: %v", round, err)
	}
	if inc := st.LastIncident; inc == nil || inc.ID != incID || inc.Open || inc.Result != recover.ResultRecovered {
		t.Errorf("round %d: last incident %+v, want %s closed and recovered", round, inc, incID)
	} else {
		for _, step := range inc.Steps {
			if step.Status != string(recover.StatusDone) && step.Status != string(recover.StatusSkipped) {
				t.Errorf("round %d: step %s is %s (%s)", round, step.Kind, step.Status, step.Note)
			}
		}
	}
	n, same, err := h.closedCount(ctx, s.Name, incID)
	if err != nil || n != 1 {
		t.Errorf("round %d: incident %s closed %d times in the stored history (%v): %+v", round, incID, n, err, same)
	}
	after, err := h.record(ctx, s.Name)
	if err != nil || after.Seq != before.Seq+1 {
		t.Errorf("round %d: incident count went from %d to %d (%v), want +1", round, before.Seq, after.Seq, err)
	}
	now, err := soaSerial(ctx, h.w.lab.DNSServer, h.w.lab.Zone)
	if err != nil || now-serial != 1 {
		t.Errorf("round %d: the zone changed %d times during the incident (%v), want once", round, now-serial, err)
	}
	if f := h.dns.flips.Load(); f > 1 {
		t.Errorf("round %d: %d successful DNS replaces during the incident, want at most one", round, f)
	}

	// A save of the dead monitor may still land just after the crash: it
	// was in flight when its client closed, and etcd committed it while
	// its leadership held. Once the new leader saved, none may follow.
	var takeover time.Duration
	var actors []string
	for _, sv := range h.savesSince(crashAt) {
		if sv.rec.Incident == nil || sv.rec.Incident.ID != incID {
			continue
		}
		switch {
		case sv.mon == dead.name && takeover == 0:
			t.Logf("round %d: %s's save in flight at the crash landed %s after it", round, dead.name, sv.at.Sub(crashAt).Round(time.Millisecond))
			continue
		case sv.mon == dead.name:
			t.Errorf("round %d: dead monitor %s saved incident %s after the new leader took over", round, dead.name, incID)
		case takeover == 0:
			takeover = sv.at.Sub(crashAt)
		}
		if !slices.Contains(actors, sv.mon) {
			actors = append(actors, sv.mon)
		}
	}
	if len(actors) != 1 || actors[0] != next.name {
		t.Errorf("round %d: incident %s saved after the takeover by %v, want only the new leader %s", round, incID, actors, next.name)
	}
	elected := "?"
	if now, err := next.r.status(ctx); err == nil && len(now.Monitors) > 0 && now.Monitors[0].Name == next.name {
		elected = now.Monitors[0].Since.Sub(crashAt).Round(time.Millisecond).String()
	}
	t.Logf("round %d: %s led %s and took over incident %s %s after %s died; total %.0f ms, steps %s",
		round, next.name, elected, incID, takeover.Round(time.Millisecond), dead.name, st.LastIncident.TotalMS, stepNotes(st.LastIncident))
	return takeover
}

// stepNotes lists an incident's steps with their notes.
func stepNotes(inc *api.IncidentStatus) string {
	var b strings.Builder
	for i, s := range inc.Steps {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%s", s.Kind, s.Status)
		if s.Note != "" {
			fmt.Fprintf(&b, " (%s)", s.Note)
		}
	}
	return b.String()
}

// restore starts the primary again and resets the service through a
// follower, which must forward the call to leader.
func (h *haLab) restore(ctx context.Context, round int, s svc, leader *haMon) {
	t := h.t
	if err := h.w.hostA.Start(ctx, s.VM); err != nil {
		t.Fatalf("round %d: restart primary: %v", round, err)
	}
	if err := waitHTTP(ctx, s.Address, s.VM); err != nil {
		t.Fatalf("round %d: primary: %v", round, err)
	}
	if err := h.awaitUp(ctx, s.Name); err != nil {
		t.Fatalf("round %d: %v", round, err)
	}
	var follower *haMon
	for _, m := range h.live() {
		if m != leader {
			follower = m
		}
	}
	// The fence froze the primary and its force-stop runs after the DNS
	// flip, on the new leader when the old one died first; a reset waits
	// for it (409 before).
	if _, err := follower.r.waitService(ctx, s.Name, func(st api.ServiceStatus) bool { return !st.LastIncident.FenceStopPending() }); err != nil {
		t.Fatalf("round %d: the fence-stop never ended: %v", round, err)
	}
	fwd := gauge(follower.r.reg, "understudy_monitor_forwarded_total")
	code, err := follower.r.post(ctx, "/v1/services/"+s.Name+"/reset")
	if err != nil || code/100 != 2 {
		t.Fatalf("round %d: reset through follower %s: %d %v", round, follower.name, code, err)
	}
	if got := gauge(follower.r.reg, "understudy_monitor_forwarded_total"); got != fwd+1 {
		t.Errorf("round %d: follower %s forwarded %v calls, want %v", round, follower.name, got, fwd+1)
	}
	if _, err := leader.r.waitService(ctx, s.Name, func(st api.ServiceStatus) bool { return st.State == "primary" }); err != nil {
		t.Fatalf("round %d: reset never reached primary: %v", round, err)
	}
	if addrs, err := lookupA(ctx, h.w.lab.DNSServer, s.FQDN); err != nil || len(addrs) != 1 || addrs[0] != s.Address {
		t.Fatalf("round %d: after reset %s holds %v (%v), want %s", round, s.FQDN, addrs, err, s.Address)
	}
}

// staleEpochRefused calls the real standby agent as the deposed leader
// would, late, with its old epoch, once the current leader (newEpoch) has
// talked to the agent, and checks that the agent refuses it.
func (h *haLab) staleEpochRefused(ctx context.Context, round int, service string, oldEpoch, newEpoch uint64) {
	t := h.t
	ectx, cancel := context.WithTimeout(ctx, haBound)
	defer cancel()
	if err := h.awaitAgentEpoch(ectx, newEpoch); err != nil {
		t.Fatalf("round %d: the new leader never reached the agent: %v", round, err)
	}
	_, err := h.agent.Activate(ctx, oldEpoch, service)
	var re *standby.RemoteError
	if !errors.Is(err, standby.ErrStaleEpoch) || !errors.As(err, &re) || re.Status != http.StatusConflict {
		t.Fatalf("round %d: activate with the deposed leader's epoch %d (agent at %d): err = %v, want a 409 stale epoch", round, oldEpoch, newEpoch, err)
	}
	t.Logf("round %d: the agent refused the deposed leader's epoch %d: %v", round, oldEpoch, err)
}

// TestIntegrationHAPartition cuts the leading monitor off etcd (a TCP
// proxy between its client and its member drops every connection) and
// checks that it stops leading, that another monitor takes over, that the
// agent refuses a late call with the cut-off leader's epoch once the new
// leader prepared the service, and that a failure afterwards is handled by
// the new leader while the cut-off monitor saves nothing. It logs how long after the cut the old
// leader stepped down and the new one won (TTL 2 s).
func TestIntegrationHAPartition(t *testing.T) {
	h := newHALab(t, 169, map[string]string{"ha-part": "warm"})
	s := h.w.services[0]
	cut := tcpcut.New(t, h.etcd.Endpoints()[0])
	a := h.start("mon-a", cut.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 2*failoverBound)
	defer cancel()
	lctx, lcancel := context.WithTimeout(ctx, haBound)
	first, oldEpoch, err := h.awaitLeader(lctx)
	lcancel()
	if err != nil || first != a {
		t.Fatalf("mon-a alone did not lead: %v", err)
	}
	h.start("mon-b", h.etcd.Endpoints()[1])
	h.start("mon-c", h.etcd.Endpoints()[2])
	lctx, lcancel = context.WithTimeout(ctx, haBound)
	first, _, err = h.awaitLeader(lctx)
	lcancel()
	if err != nil || first != a {
		t.Fatalf("mon-a does not lead the three (%v): %v", first, err)
	}
	a.r.waitPrepared(ctx, t, s.Name)

	cutAt := cut.Cut()
	var downAt, upAt time.Time
	var winner string
	samples := 0
	var prev time.Time
	var maxGap time.Duration // the longest time between two samples
	for (downAt.IsZero() || upAt.IsZero()) && ctx.Err() == nil {
		// The others are read before mon-a: a monitor that leads keeps
		// leading here, so seeing one lead and then mon-a still leading
		// is an overlap, never an artefact of the order of the reads.
		now := time.Now()
		if !prev.IsZero() {
			maxGap = max(maxGap, now.Sub(prev))
		}
		prev = now
		var leaders []string
		for _, m := range h.live() {
			if m != a && gauge(m.r.reg, "understudy_monitor_leader") == 1 {
				leaders = append(leaders, m.name)
				if upAt.IsZero() {
					upAt, winner = now, m.name
				}
			}
		}
		if gauge(a.r.reg, "understudy_monitor_leader") == 1 {
			leaders = append(leaders, a.name)
		} else if downAt.IsZero() {
			downAt = time.Now()
		}
		samples++
		if len(leaders) > 1 {
			t.Errorf("overlap %s after the cut: %v all lead at once", time.Since(cutAt).Round(time.Millisecond), leaders)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if downAt.IsZero() {
		t.Fatalf("mon-a still leads %s after it was cut off etcd", time.Since(cutAt).Round(time.Millisecond))
	}
	if upAt.IsZero() {
		t.Fatalf("no other monitor leads %s after mon-a was cut off", time.Since(cutAt).Round(time.Millisecond))
	}
	// mon-a renewed its lease at most a third of the TTL before the cut
	// and its leadership ends 0.9 TTL after that renewal, before etcd can
	// expire the lease (ha's TestPartitionEndsLeadership asserts that on
	// the Leadership itself). Here only the sampled gauge is seen: it
	// drops up to termStopBound after the leadership ended and is seen up
	// to two sampling intervals later, so the bound adds both; the
	// overlap checks above and below are what must never fail.
	down := downAt.Sub(cutAt)
	bound := haTTL + 2*maxGap + termStopBound
	t.Logf("lease TTL %s: mon-a stepped down %s after the cut (bound %s); %s led %s after the cut (%d samples at most %s apart, none with two leaders)", haTTL,
		down.Round(time.Millisecond), bound.Round(time.Millisecond), winner, upAt.Sub(cutAt).Round(time.Millisecond), samples, maxGap.Round(time.Millisecond))
	if upAt.Before(downAt) {
		t.Errorf("overlap: %s led %s before the cut-off mon-a stepped down", winner, downAt.Sub(upAt).Round(time.Millisecond))
	}
	if down >= bound {
		t.Errorf("mon-a stepped down %s after the cut, want within its lease TTL %s plus the term's stop bound %s and two samples (%s)",
			down.Round(time.Millisecond), haTTL, termStopBound, bound.Round(time.Millisecond))
	}

	// mon-a is out: the others agree on the new leader without it.
	h.mu.Lock()
	h.mons = slices.DeleteFunc(h.mons, func(m *haMon) bool { return m == a })
	h.mu.Unlock()
	lctx, lcancel = context.WithTimeout(ctx, haBound)
	next, newEpoch, err := h.awaitLeader(lctx)
	lcancel()
	if err != nil {
		t.Fatalf("after the cut: %v", err)
	}
	if next.name != winner || newEpoch <= oldEpoch {
		t.Errorf("new leader %s epoch %d; want %s above %d", next.name, newEpoch, winner, oldEpoch)
	}
	if g := gauge(a.r.reg, "understudy_monitor_leader"); g != 0 {
		t.Errorf("cut-off mon-a reports understudy_monitor_leader %v", g)
	}
	// The new leader's term prepares the service again under its epoch;
	// from then on the cut-off leader's epoch is refused.
	h.staleEpochRefused(ctx, 0, s.Name, oldEpoch, newEpoch)

	// A failure now is handled by the new leader; mon-a, which still
	// probes, never saves anything.
	if err := h.awaitUp(ctx, s.Name); err != nil {
		t.Fatal(err)
	}
	if err := h.w.hostA.Stop(ctx, s.VM, 0); err != nil {
		t.Fatalf("force-stop primary: %v", err)
	}
	st, err := next.r.waitService(ctx, s.Name, func(st api.ServiceStatus) bool {
		return st.State == "on-standby" || st.State == "stuck"
	})
	if err != nil || st.State != "on-standby" {
		t.Fatalf("failover under %s after the cut: %s %v", next.name, st.State, err)
	}
	if _, err := h.w.answersFromStandby(ctx, s); err != nil {
		t.Errorf("after the failover: %v", err)
	}
	for _, sv := range h.savesSince(cutAt) {
		if sv.mon == a.name {
			t.Errorf("cut-off %s saved %s (%s) after the cut", a.name, sv.rec.Service, sv.rec.State)
		}
	}
}
