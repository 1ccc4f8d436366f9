package executor

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/understudy/understudy/playbooks"
	"github.com/understudy/understudy/recover"
)

// TestExecutorDNSVerified: after the swap, dns-replace waits for the
// dns.verify servers, and the incident records dns-verified after
// dns-flipped.
func TestExecutorDNSVerified(t *testing.T) {
	w := newWorld(t, nil)
	w.verify.set([]string{"127.0.0.1:5354", "127.0.0.1:5355"})
	if err := w.exec.Trigger(context.Background(), "web", recover.FromMonitor, "vm down"); err != nil {
		t.Fatal(err)
	}
	r := w.until("closed", closed)
	if r.State != recover.OnStandby || r.Incident.Result != recover.ResultRecovered || len(r.Incident.Warnings) != 0 {
		t.Fatalf("state %s result %q warnings %q, want recovered without warnings", r.State, r.Incident.Result, r.Incident.Warnings)
	}
	flipped, ok1 := r.Incident.Phase("dns-flipped")
	verified, ok2 := r.Incident.Phase("dns-verified")
	onStandby, _ := r.Incident.Phase("on-standby")
	if !ok1 || !ok2 || verified.Before(flipped) || onStandby.Before(verified) {
		t.Errorf("phases %+v, want dns-flipped <= dns-verified <= on-standby", r.Incident.Phases)
	}
	if n := w.metric("understudy_recover_dns_verify_failures_total", "127.0.0.1:5354"); n != 0 {
		t.Errorf("verify failures = %v, want 0", n)
	}
}

// TestExecutorDNSVerifyNeverConverges: a dns.verify server that never
// answers the new address leaves the incident done (recovered) within the
// step's deadline, with a warning and an alert naming the server, and a
// count in understudy_recover_dns_verify_failures_total. It runs in a
// testing/synctest bubble: the step's 400 ms, and the verify deadline a
// quarter before it, pass only when every goroutine waits, so a busy machine
// cannot let the step time out before the verifier's answer is reported.
func TestExecutorDNSVerifyNeverConverges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, func(c *recover.Config) {
			i := c.Playbook.Index(playbooks.DNSReplace)
			c.Playbook.Steps[i].Timeout = 400 * time.Millisecond //: the budget the stale server waits out
		})
		w.verify.set([]string{"127.0.0.1:5354", "192.0.2.53:53"}, "192.0.2.53:53")
		if err := w.exec.Trigger(context.Background(), "web", recover.FromMonitor, "vm down"); err != nil {
			t.Fatal(err)
		}
		r := w.until("closed", closed)
		dns := r.Incident.Steps[r.Incident.Playbook.Index(playbooks.DNSReplace)]
		if r.State != recover.OnStandby || r.Incident.Result != recover.ResultRecovered || dns.Status != recover.StatusDone || dns.Attempt != 1 {
			t.Fatalf("state %s result %q dns step %+v, want recovered with dns-replace done in one attempt", r.State, r.Incident.Result, dns)
		}
		if len(r.Incident.Warnings) != 1 || !strings.Contains(r.Incident.Warnings[0], "192.0.2.53:53") {
			t.Errorf("warnings %q, want one naming 192.0.2.53:53", r.Incident.Warnings)
		}
		if _, ok := r.Incident.Phase("dns-verified"); ok {
			t.Errorf("dns-verified recorded although a server did not converge: %+v", r.Incident.Phases)
		}
		if _, ok := r.Incident.Phase("dns-flipped"); !ok {
			t.Errorf("no dns-flipped phase: %+v", r.Incident.Phases)
		}
		if n := w.metric("understudy_recover_dns_verify_failures_total", "192.0.2.53:53"); n != 1 {
			t.Errorf("understudy_recover_dns_verify_failures_total{server=192.0.2.53:53} = %v, want 1", n)
		}
		// The alert is posted by a goroutine of its own, which may still run
		// when the closed record is saved; it is the executor's, so once the
		// executor stopped it finished.
		w.stop()
		var alerted bool
		for _, n := range w.notes.events() {
			alerted = alerted || n.Event == "alert" && strings.Contains(n.Reason, "192.0.2.53:53")
		}
		if !alerted {
			t.Errorf("no alert names the server: %+v", w.notes.events())
		}
		w.verify.mu.Lock()
		defer w.verify.mu.Unlock()
		if len(w.verify.deadlines) != 1 || !w.verify.deadlines[0].Before(dns.Deadline) {
			t.Errorf("verify deadlines %v, want one before the step's deadline %v", w.verify.deadlines, dns.Deadline)
		}
	})
}

// TestExecutorMovesVerifyDNS: a migration's and a failback's dns-replace
// wait for the dns.verify servers too.
func TestExecutorMovesVerifyDNS(t *testing.T) {
	w := newMoveWorld(t, []string{"web"}, 0, nil)
	w.verify.set([]string{"127.0.0.1:5354"})
	ctx := context.Background()
	if err := w.exec.Migrate(ctx, "web", "spare-1", recover.FromCLI, "operator"); err != nil {
		t.Fatal(err)
	}
	r := w.until("migrated", closedAs("web", recover.ResultMigrated))
	if _, ok := r.Incident.Phase("dns-verified"); !ok {
		t.Errorf("migration phases %+v, want dns-verified", r.Incident.Phases)
	}
	if err := w.exec.Failback(ctx, "web", recover.FromCLI, "primary repaired"); err != nil {
		t.Fatal(err)
	}
	r = w.until("failed back", closedAs("web", recover.ResultFailedBack))
	if _, ok := r.Incident.Phase("dns-verified"); !ok {
		t.Errorf("failback phases %+v, want dns-verified", r.Incident.Phases)
	}
}

// TestDNSVerifyAlertsHaveOneKeyEach: two dns.verify servers that do not
// answer the new address raise two alerts whose Idempotency-Keys differ
// (each names its server), so a receiver that deduplicates keeps both.
func TestDNSVerifyAlertsHaveOneKeyEach(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, func(c *recover.Config) {
			i := c.Playbook.Index(playbooks.DNSReplace)
			c.Playbook.Steps[i].Timeout = 400 * time.Millisecond //: the budget the stale servers wait out
		})
		w.verify.set([]string{"192.0.2.53:53", "192.0.2.54:53"}, "192.0.2.53:53", "192.0.2.54:53")
		if err := w.exec.Trigger(context.Background(), "web", recover.FromMonitor, "vm down"); err != nil {
			t.Fatal(err)
		}
		w.until("closed", closed)
		w.stop() // the alert goroutines are the executor's: they finished
		keys := map[string]string{}
		for _, n := range w.notes.events() {
			if n.Event == "alert" && n.Alert == recover.AlertUnverified {
				keys[n.Key] = n.Reason
			}
		}
		if len(keys) != 2 {
			t.Fatalf("unverified alerts by key: %q, want two keys", keys)
		}
		for k, reason := range keys {
			if !strings.HasPrefix(k, "alert/web-1/"+recover.AlertUnverified+"/") || !strings.Contains(reason, k[strings.LastIndex(k, "/")+1:]) {
				t.Errorf("alert key %q for %q: want alert/web-1/%s/... naming its server", k, reason, recover.AlertUnverified)
			}
		}
	})
}

// TestNotifyKeySameOnRetry: a notification delivered whose answer was lost
// (the attempt failed) is sent again with the same Idempotency-Key, so the
// receiver sees it once.
func TestNotifyKeySameOnRetry(t *testing.T) {
	pb, err := playbooks.Parse("notify", []byte("- step: activate\n- step: wait-healthy\n- step: dns-replace\n- step: notify\n  retry: {attempts: 3}\n"))
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, func(c *recover.Config) { c.Playbook = pb })
	w.notes.mu.Lock()
	w.notes.lost = 1
	w.notes.mu.Unlock()
	if err := w.exec.Trigger(context.Background(), "web", recover.FromMonitor, "vm down"); err != nil {
		t.Fatal(err)
	}
	w.until("closed", closed)
	var keys []string
	for _, n := range w.notes.events() {
		if n.Event == "incident" {
			keys = append(keys, n.Key)
		}
	}
	if len(keys) != 2 || keys[0] != keys[1] {
		t.Errorf("incident notification keys %q, want two attempts with one key", keys)
	}
}
