package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/store"
)

// fencedStore is the store as a deposed leader sees it: once fenced, every
// save fails with store.ErrFenced (the leader-guarded write refused).
type fencedStore struct {
	store.Store
	fenced atomic.Bool
}

func (s *fencedStore) Save(ctx context.Context, rec recover.Record) error {
	if s.fenced.Load() {
		return fmt.Errorf("save %q: %w", rec.Service, store.ErrFenced)
	}
	return s.Store.Save(ctx, rec)
}

// failedOver starts a controller on fakes and fails web over by hand.
func failedOver(t *testing.T, mutate func(*harness)) *harness {
	t.Helper()
	h := start(t, testInventory, mutate)
	h.eventually("web prepared", func() bool { return h.service("web").Standby.Prepared })
	if code, e := h.post("/v1/services/web/failover", `{"reason":"drill"}`); code != http.StatusAccepted {
		t.Fatalf("failover: %d %+v", code, e)
	}
	h.eventually("web on-standby", func() bool { return h.service("web").State == "on-standby" })
	return h
}

// TestResetIsAnExecutorStep: reset's DNS swap runs inside the executor,
// behind the store's leader-guarded write. A monitor whose writes are
// fenced (another one leads) answers the reset with an error and changes
// neither DNS nor the standby.
func TestResetIsAnExecutorStep(t *testing.T) {
	var store *fencedStore
	h := failedOver(t, func(h *harness) {
		store = &fencedStore{Store: h.store}
		h.tune = func(o *Options) { o.Store = store }
	})
	flips := h.dns.flipCount()
	store.fenced.Store(true)
	code, e := h.post("/v1/services/web/reset", `{"reason":"primary repaired"}`)
	if code/100 == 2 || !strings.Contains(e.Error, "fenced") {
		t.Errorf("reset while fenced: %d %+v, want an error saying the write was fenced", code, e)
	}
	if got := h.dns.get("web.lab.test."); len(got) != 1 || got[0].String() != "10.9.1.11" || h.dns.flipCount() != flips {
		t.Errorf("DNS = %v after a fenced reset (%d flips, was %d), want the standby's address untouched", got, h.dns.flipCount(), flips)
	}
	if _, active, _ := h.agent.snapshot(); !active["web"] {
		t.Error("a fenced reset deactivated the standby container")
	}
	// Once the writes go through again, the same reset works, inside the
	// executor: it is recorded as the steps of an incident of kind reset.
	store.fenced.Store(false)
	if code, e := h.post("/v1/services/web/reset", `{"reason":"primary repaired"}`); code != http.StatusAccepted {
		t.Fatalf("reset: %d %+v", code, e)
	}
	st := h.service("web")
	if got := h.dns.get("web.lab.test."); len(got) != 1 || got[0].String() != "10.9.0.11" || st.State != "primary" {
		t.Fatalf("after reset: DNS %v, state %s", got, st.State)
	}
	inc := st.LastIncident
	var kinds []string
	for _, s := range inc.Steps {
		kinds = append(kinds, s.Kind+":"+s.Status)
	}
	if inc.Result != "reset" || strings.Join(kinds, " ") != "wait-healthy:done dns-replace:done vacate:done" {
		t.Errorf("reset incident %s result %q steps %v, want wait-healthy, dns-replace and vacate done", inc.ID, inc.Result, kinds)
	}
}

// TestResetRefusesUnhealthyPrimary: a reset checks the primary first; one
// that fails its check is refused with a clear error (409), and DNS and the
// standby container stay as they are.
func TestResetRefusesUnhealthyPrimary(t *testing.T) {
	h := failedOver(t, nil)
	h.probes.set("10.9.0.11", true) // the primary's service check fails
	code, e := h.post("/v1/services/web/reset", `{"reason":"primary repaired?"}`)
	if code != http.StatusConflict || !strings.Contains(e.Error, "10.9.0.11 failed its check") || e.State != "on-standby" {
		t.Errorf("reset of an unhealthy primary: %d %+v, want 409 naming the failed check, state on-standby", code, e)
	}
	if got := h.dns.get("web.lab.test."); len(got) != 1 || got[0].String() != "10.9.1.11" {
		t.Errorf("DNS = %v after a refused reset, want the standby's address", got)
	}
	if _, active, _ := h.agent.snapshot(); !active["web"] {
		t.Error("a refused reset deactivated the standby container")
	}
	h.probes.set("10.9.0.11", false)
	if code, e := h.post("/v1/services/web/reset", ""); code != http.StatusAccepted {
		t.Fatalf("reset of a healthy primary: %d %+v", code, e)
	}
	if got := h.dns.get("web.lab.test."); len(got) != 1 || got[0].String() != "10.9.0.11" {
		t.Errorf("DNS = %v after reset", got)
	}
}

// TestAlertURLReceivesAlerts: monitor.alert-url reaches the executor, so an
// incident that sticks POSTs an alert (with an Idempotency-Key) to it.
func TestAlertURLReceivesAlerts(t *testing.T) {
	type alert struct{ key, kind, service string }
	alerts := make(chan alert, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n struct{ Event, Alert, Service string } // as a receiver reads it
		if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
			t.Errorf("alert body: %v", err)
		}
		if n.Event == "alert" {
			alerts <- alert{key: r.Header.Get("Idempotency-Key"), kind: n.Alert, service: n.Service}
		}
	}))
	defer srv.Close()
	inv := strings.Replace(testInventory, "  flap: {max: 100, window: 1h}\n",
		"  flap: {max: 100, window: 1h}\n  alert-url: "+srv.URL+"/hook\n", 1)
	h := start(t, inv, func(h *harness) {
		// Someone else changed web's record: the flip's compare-and-swap
		// fails and the incident sticks.
		h.dns.records["web.lab.test."] = []netip.Addr{netip.MustParseAddr("10.9.9.9")}
	})
	h.eventually("web prepared", func() bool { return h.service("web").Standby.Prepared })
	if code, e := h.post("/v1/services/web/failover", `{"reason":"drill"}`); code != http.StatusAccepted {
		t.Fatalf("failover: %d %+v", code, e)
	}
	select {
	case a := <-alerts:
		if a.kind != "stuck" || a.service != "web" || a.key == "" {
			t.Errorf("alert %+v, want web stuck with an Idempotency-Key", a)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no alert at monitor.alert-url; web is %s", h.service("web").State)
	}
}
