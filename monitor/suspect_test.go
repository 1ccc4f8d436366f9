package monitor

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/understudy/understudy/ha"
	"github.com/understudy/understudy/internal/monitorapi"
	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/monitor/httpapi"
)

// suspectAt serves a proxy's suspect report about svc with h and returns
// the answer.
func suspectAt(t *testing.T, h http.Handler, ctx context.Context, svc string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/v1/services/"+svc+"/suspect", strings.NewReader(`{"reason":"backend down"}`))
	r.SetPathValue("name", svc)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// openFindings returns the services c keeps findings of.
func openFindings(c *Controller) []string {
	names, _ := c.findings.List()
	return names
}

// TestSuspectNotTakenIsKeptAndNotCoalesced: a suspect report whose
// trigger finds no term (the leadership ended under it) is answered 503 and
// kept for the next leadership, and it does not open the coalescing
// window: the proxy's next report is tried again, not answered "202
// coalesced" as if it had been taken.
func TestSuspectNotTakenIsKeptAndNotCoalesced(t *testing.T) {
	c := newIdle(t, testInventory, nil)
	post := http.HandlerFunc(c.newAPI().PostSuspect)
	for i := range 2 {
		w := suspectAt(t, post, t.Context(), "web")
		var tr api.TriggerResponse
		_ = json.Unmarshal(w.Body.Bytes(), &tr)
		if w.Code != http.StatusServiceUnavailable || tr.Coalesced {
			t.Errorf("report %d without a term: %d %s, want 503 (not coalesced)", i+1, w.Code, w.Body)
		}
	}
	if got := openFindings(c); len(got) != 1 || got[0] != "web" {
		t.Errorf("open findings = %v, want [web]", got)
	}
}

// TestSuspectKeptWhenForwardFails: a follower keeps a proxy's suspect
// report as a finding when the leader it forwards to does not answer (502)
// or answers 5xx, and not when the leader took it; a report about a
// service the plan does not know is never kept (it would stay open).
func TestSuspectKeptWhenForwardFails(t *testing.T) {
	c := newIdle(t, testInventory, nil)
	c.peers = peerAPI{scheme: "http", hc: monitorapi.HTTPClient(nil)}
	h := c.newAPI().LeaderOnly(http.NotFoundHandler())
	lead := func(addr string) {
		c.roles.observe(ha.Leader{Name: "mon-x", Address: addr, Rev: 1})
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	lead(dead)
	if w := suspectAt(t, h, t.Context(), "nope"); w.Code != http.StatusBadGateway || len(openFindings(c)) != 0 {
		t.Errorf("an unknown service to a dead leader: %d, findings %v; want 502 and none", w.Code, openFindings(c))
	}
	if w := suspectAt(t, h, t.Context(), "web"); w.Code != http.StatusBadGateway {
		t.Errorf("to a dead leader: %d, want 502", w.Code)
	}
	if got := openFindings(c); len(got) != 1 || got[0] != "web" {
		t.Errorf("open findings after a dead leader = %v, want [web]", got)
	}
	c.findings.Close("web")

	code := http.StatusInternalServerError
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { httpapi.WriteJSON(w, code, api.Error{Error: "x"}) }))
	defer srv.Close()
	lead(strings.TrimPrefix(srv.URL, "http://"))
	if w := suspectAt(t, h, t.Context(), "web"); w.Code != code {
		t.Errorf("to a failing leader: %d, want %d", w.Code, code)
	}
	if got := openFindings(c); len(got) != 1 || got[0] != "web" {
		t.Errorf("open findings after the leader's 500 = %v, want [web]", got)
	}
	c.findings.Close("web")
	code = http.StatusAccepted
	if w := suspectAt(t, h, t.Context(), "web"); w.Code != code || len(openFindings(c)) != 0 {
		t.Errorf("to a leader that took it: %d, findings %v; want 202 and none", w.Code, openFindings(c))
	}

	// No leader at all (the wait ended): the known service is kept, the
	// unknown one not.
	lead("")
	ended, cancel := context.WithCancel(t.Context())
	cancel()
	for _, svc := range []string{"nope", "web"} {
		if w := suspectAt(t, h, ended, svc); w.Code != http.StatusServiceUnavailable {
			t.Errorf("%s without a leader: %d, want 503", svc, w.Code)
		}
	}
	if got := openFindings(c); len(got) != 1 || got[0] != "web" {
		t.Errorf("open findings without a leader = %v, want [web]", got)
	}
}
