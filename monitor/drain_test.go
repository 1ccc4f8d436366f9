package monitor

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/executor"
)

// hookCall is what a drain webhook saw: the event and the status of the
// incident's hold, copy and release steps at that moment.
type hookCall struct {
	event               string
	hold, copy, release recover.StepStatus
}

// hookReceiver records the drain and undrain webhooks it receives.
type hookReceiver struct {
	mu    sync.Mutex
	calls []hookCall
}

func (r *hookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var n executor.Notification
	if err := json.NewDecoder(req.Body).Decode(&n); err != nil || n.Incident == nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	c := hookCall{event: n.Event}
	for _, s := range n.Incident.Steps {
		switch s.Kind {
		case recover.StepHold:
			c.hold = s.Status
		case recover.StepCopy:
			c.copy = s.Status
		case recover.StepRelease:
			c.release = s.Status
		}
	}
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
}

func (r *hookReceiver) snapshot() []hookCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hookCall(nil), r.calls...)
}

// TestDrainBeforeHoldUndrainAfterRelease: a service with drain and
// undrain webhooks migrates with its drain called before the hold and the
// copy, and its undrain after the release, once each.
func TestDrainBeforeHoldUndrainAfterRelease(t *testing.T) {
	rcv := &hookReceiver{}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	inv := strings.Replace(spareInventory, "    mode: warm\n",
		"    mode: warm\n    drain: {url: "+srv.URL+"/drain}\n    undrain: {url: "+srv.URL+"/undrain}\n", 1)
	mig := &fakeMigrator{copies: map[string]string{}}
	h := start(t, inv, func(h *harness) { h.migrator = mig })
	h.eventually("web prepared", func() bool { return h.service("web").Standby.Prepared })
	if code, e := h.post("/v1/services/web/failover", ""); code != http.StatusAccepted {
		t.Fatalf("failover: %d %+v", code, e)
	}
	h.eventually("web on-standby", func() bool { return h.service("web").State == "on-standby" })
	if len(rcv.snapshot()) != 0 {
		t.Fatalf("a failover called the drain hooks: %+v", rcv.snapshot())
	}
	if code, res := h.migrate(`{"reason":"test"}`); code != http.StatusAccepted {
		t.Fatalf("migrate: %d %+v", code, res)
	}
	h.eventually("web on-spare", func() bool { return h.service("web").State == "on-spare" })
	calls := rcv.snapshot()
	if len(calls) != 2 || calls[0].event != "drain" || calls[1].event != "undrain" {
		t.Fatalf("hook calls = %+v, want drain then undrain", calls)
	}
	if d := calls[0]; d.hold != recover.StatusPending || d.copy != recover.StatusPending {
		t.Errorf("at drain: hold %s, copy %s; want both pending", d.hold, d.copy)
	}
	if u := calls[1]; u.hold != recover.StatusDone || u.release != recover.StatusDone {
		t.Errorf("at undrain: hold %s, release %s; want both done", u.hold, u.release)
	}
}
