package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/playbooks"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/store"
)

// etcdRequestLimit is etcd's default request size limit (1.5 MiB).
const etcdRequestLimit = 1536 << 10

// sizeLimitStore is a MemStore that, like etcd, refuses a write over its
// request limit, and remembers the largest record it was given.
type sizeLimitStore struct {
	*store.Memory
	limit int

	mu      sync.Mutex
	largest int
}

func (s *sizeLimitStore) Save(ctx context.Context, rec recover.Record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.largest = max(s.largest, len(b))
	s.mu.Unlock()
	if len(b) > s.limit {
		return fmt.Errorf("save %q: etcdserver: request is too large (%d bytes)", rec.Service, len(b))
	}
	return s.Memory.Save(ctx, rec)
}

func (s *sizeLimitStore) max() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.largest
}

// TestTriggerStormKeepsResetAnswering: 1,000 suspect reports with 60 KB
// reasons join a running incident. Every save fits the store (the record
// stays under 128 KiB), every report is answered, the incident goes on to
// the standby, and a reset still answers.
func TestTriggerStormKeepsResetAnswering(t *testing.T) {
	limited := &sizeLimitStore{Memory: store.NewMemory(), limit: etcdRequestLimit}
	w := newWorldWith(t, nil, func(w *world) { w.store = limited })
	block := make(chan struct{})
	w.agent.block = block // the incident stays in activate while the reports come
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.exec.Trigger(ctx, "web", recover.FromProxy, "request got no ICMP reply"); err != nil {
		t.Fatal(err)
	}
	w.until("activating", func(r recover.Record) bool { _, ok := r.Incident.Phase("activating"); return ok })
	big := strings.Repeat("x", 60_000)
	for i := range 1000 {
		if err := w.exec.Trigger(ctx, "web", recover.FromProxy, fmt.Sprintf("report %d: %s", i, big)); err != nil {
			t.Fatalf("report %d: %v (largest record %d bytes)", i, err, limited.max())
		}
	}
	close(block)
	r := w.until("on-standby", func(r recover.Record) bool { return r.State == recover.OnStandby })
	if n := limited.max(); n >= 128<<10 {
		t.Errorf("largest record %d bytes, want under 128 KiB", n)
	}
	if tr := r.Incident.Triggers; len(tr) != 1 || tr[0].Count != 1001 || !strings.HasPrefix(tr[0].LastReason, "report 999: ") {
		t.Errorf("triggers %+v, want one proxy record counting 1001", tr)
	}
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	if err := w.exec.Reset(rctx, "web", "primary repaired"); err != nil {
		t.Fatalf("reset after the storm: %v", err)
	}
	w.until("primary", func(r recover.Record) bool { return r.State == recover.Primary })
}

// TestAlertWebhookFires: the alert webhook (AlertURL, through the notify
// step's Webhook) gets a POST with an Idempotency-Key when a failover goes
// on unfenced and when its incident sticks.
func TestAlertWebhookFires(t *testing.T) {
	type hit struct {
		key string
		n   Notification
	}
	hits := make(chan hit, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var n Notification
		if err := json.Unmarshal(body, &n); err != nil || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("webhook body %q (%v), content type %q", body, err, r.Header.Get("Content-Type"))
		}
		if n.Event == "alert" {
			hits <- hit{key: r.Header.Get("Idempotency-Key"), n: n}
		}
	}))
	defer srv.Close()
	other := netip.MustParseAddr("10.200.9.9")
	w := newWorldWith(t, func(c *recover.Config) { c.Service.Confirm = "none" }, func(w *world) {
		w.fencer.err = errors.New("hypervisor unreachable")
		w.dns.records["web.lab.test."] = []netip.Addr{other} // the flip's precondition fails: stuck
		w.tune = func(c *Config) {
			c.AlertURL = srv.URL + "/hook?token=secret"
			c.Deps.Notifier = &Webhook{Client: srv.Client()}
		}
	})
	if err := w.exec.Trigger(context.Background(), "web", recover.FromMonitor, "vm down"); err != nil {
		t.Fatal(err)
	}
	w.until("stuck", func(r recover.Record) bool { return r.State == recover.Stuck })
	got := map[string]hit{}
	timeout := time.After(10 * time.Second)
	for len(got) < 2 {
		select {
		case h := <-hits:
			got[h.n.Alert] = h
		case <-timeout:
			t.Fatalf("alerts received: %+v, want unfenced and stuck", got)
		}
	}
	for _, kind := range []string{recover.AlertUnfenced, recover.AlertStuck} {
		h, ok := got[kind]
		if !ok || h.key == "" || h.key != h.n.Key || h.n.Service != "web" || h.n.Incident == nil || h.n.Incident.ID != "web-1" {
			t.Errorf("%s alert %+v, want one for web-1 with its Idempotency-Key", kind, h)
		}
	}
	if got[recover.AlertUnfenced].key == got[recover.AlertStuck].key {
		t.Errorf("both alerts have the key %q", got[recover.AlertStuck].key)
	}
	if !strings.Contains(got[recover.AlertStuck].n.Reason, "incident stuck") {
		t.Errorf("stuck alert reason %q", got[recover.AlertStuck].n.Reason)
	}
}

// TestExecutorRetriesTransientConfirm: one transient error of the agent
// during confirmation is retried and the failover completes.
func TestExecutorRetriesTransientConfirm(t *testing.T) {
	w := newWorld(t, nil)
	w.agent.confirmErrs = 1
	if err := w.exec.Trigger(context.Background(), "web", recover.FromMonitor, "3 probes failed"); err != nil {
		t.Fatal(err)
	}
	r := w.until("closed", closed)
	if r.State != recover.OnStandby || r.Incident.Steps[0].Attempt != 2 {
		t.Errorf("state %s, confirm %+v; want on-standby after a second confirm attempt", r.State, r.Incident.Steps[0])
	}
}

// TestExecutorResetRefusesUnhealthyPrimary: a reset whose primary fails
// its check is refused with ErrPrimaryUnhealthy; DNS and the standby stay.
func TestExecutorResetRefusesUnhealthyPrimary(t *testing.T) {
	w := newWorld(t, nil)
	ctx := context.Background()
	if err := w.exec.Trigger(ctx, "web", recover.FromCLI, "drill"); err != nil {
		t.Fatal(err)
	}
	w.until("on-standby", func(r recover.Record) bool { return r.State == recover.OnStandby })
	w.health.mu.Lock()
	w.health.unhealthy = map[netip.Addr]bool{primaryAddr: true}
	w.health.mu.Unlock()
	err := w.exec.Reset(ctx, "web", "primary repaired?")
	if !errors.Is(err, recover.ErrPrimaryUnhealthy) || !strings.Contains(err.Error(), primaryAddr.String()) {
		t.Fatalf("reset: %v, want ErrPrimaryUnhealthy naming the primary", err)
	}
	if got := w.dns.get("web.lab.test."); !slices.Equal(got, []netip.Addr{standbyAddr}) {
		t.Errorf("DNS = %v after a refused reset", got)
	}
	if recs := w.exec.Records(); recs[0].State != recover.OnStandby || len(w.deact.deactivated()) != 0 {
		t.Errorf("after a refused reset: %s, deactivated %v", recs[0].State, w.deact.deactivated())
	}
	w.health.mu.Lock()
	w.health.unhealthy = nil
	w.health.mu.Unlock()
	if err := w.exec.Reset(ctx, "web", "primary repaired"); err != nil {
		t.Fatal(err)
	}
	if got := w.dns.get("web.lab.test."); !slices.Equal(got, []netip.Addr{primaryAddr}) || len(w.deact.deactivated()) != 1 {
		t.Errorf("after reset: DNS %v, deactivated %v", got, w.deact.deactivated())
	}
}

// TestRetryBackoffDoublesWithJitter: the backoff doubles from retry.backoff
// up to retry.max-backoff, less the injected jitter (asked for up to half of
// it), and no attempt starts past the step's budget.
func TestRetryBackoffDoublesWithJitter(t *testing.T) {
	pb := &playbooks.Playbook{Name: "t", Steps: []playbooks.Step{
		{Kind: playbooks.Activate, Timeout: time.Second, Retry: playbooks.Retry{
			Backoff: 100 * time.Millisecond, MaxBackoff: 400 * time.Millisecond, Budget: 2 * time.Second}},
		{Kind: playbooks.WaitHealthy, Timeout: time.Second},
	}}
	var asked []time.Duration
	m := recover.New(recover.Config{Playbook: pb, Service: recover.Service{Name: "web", Address: primaryAddr, Confirm: "none", Fence: "none"},
		Jitter: func(d time.Duration) time.Duration { asked = append(asked, d); return d / 2 }})
	now := t0
	if _, err := m.Step(recover.Trigger{At: now, Source: recover.FromMonitor, Reason: "vm down"}); err != nil {
		t.Fatal(err)
	}
	var delays []time.Duration
	for attempt := 1; m.State() != recover.Stuck; attempt++ {
		now = now.Add(10 * time.Millisecond) // each attempt fails at once
		if _, err := m.Step(recover.StepFailed{At: now, Incident: "web-1", Step: 0, Attempt: attempt, Err: "connection refused"}); err != nil {
			t.Fatal(err)
		}
		at, ok := m.Deadline()
		if m.State() == recover.Stuck || !ok {
			break
		}
		delays = append(delays, at.Sub(now))
		now = at
		if _, err := m.Step(recover.Tick{At: now}); err != nil {
			t.Fatal(err)
		}
	}
	ms := time.Millisecond
	// 100, 200, 400, 400, ... less a quarter (half of the jitter's half).
	want := []time.Duration{75 * ms, 150 * ms, 300 * ms, 300 * ms, 300 * ms, 300 * ms, 300 * ms}
	if !slices.Equal(delays, want) {
		t.Errorf("backoffs %v, want %v", delays, want)
	}
	if len(asked) == 0 || asked[0] != 50*ms {
		t.Errorf("jitter asked for %v, want up to half of each backoff (50ms first)", asked)
	}
	if rec := m.Record(); rec.State != recover.Stuck || rec.Incident.Steps[0].Attempt != len(want)+1 {
		t.Errorf("state %s after %d attempts, want stuck once the 2s budget is spent", rec.State, rec.Incident.Steps[0].Attempt)
	}
}
