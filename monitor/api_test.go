package monitor

import (
	"net/http"
	"strings"
	"testing"
)

// TestMigrateRejectsUnknownFields: a misspelt field is a 400 naming it, not
// a default: {"dryrun": true} must not run a real migration. Every body the
// API reads is decoded the same way (httpapi.DecodeBody).
func TestMigrateRejectsUnknownFields(t *testing.T) {
	mig := &fakeMigrator{copies: map[string]string{}}
	h := start(t, spareInventory, func(h *harness) { h.migrator = mig })
	h.eventually("web prepared", func() bool { return h.service("web").Standby.Prepared })
	if code, e := h.post("/v1/services/web/failover", ""); code != http.StatusAccepted {
		t.Fatalf("failover: %d %+v", code, e)
	}
	h.eventually("web on-standby", func() bool { return h.service("web").State == "on-standby" })

	code, res := h.migrate(`{"dryrun":true}`)
	if code != http.StatusBadRequest || !strings.Contains(res.Error, `"dryrun"`) {
		t.Errorf(`migrate {"dryrun":true}: %d %+v, want 400 naming "dryrun"`, code, res)
	}
	for _, tc := range []struct{ path, body, field string }{
		{"/v1/services/web/migrate", `{"dry_run":true} {"to":"spare-1"}`, "more than one JSON value"},
		{"/v1/services/web/failback", `{"reasn":"typo"}`, `"reasn"`},
		{"/v1/services/web/reset", `{"reason":"x","force":true}`, `"force"`},
		{"/v1/services/api/failover", `{"reason":"x","confirm":false}`, `"confirm"`},
		{"/v1/services/api/suspect", `{"why":"x"}`, `"why"`},
	} {
		if code, e := h.post(tc.path, tc.body); code != http.StatusBadRequest || !strings.Contains(e.Error, tc.field) {
			t.Errorf("POST %s %s: %d %+v, want 400 naming %s", tc.path, tc.body, code, e, tc.field)
		}
	}
	if copies, _ := mig.snapshot(); len(copies) != 0 {
		t.Errorf("copies made after refused bodies: %v", copies)
	}
	if st := h.service("web"); st.State != "on-standby" {
		t.Errorf("web is %s after refused bodies, want on-standby", st.State)
	}
	if st := h.service("api"); st.State != "primary" || st.Incidents != 0 {
		t.Errorf("api is %s with %d incident(s) after refused bodies, want primary with none", st.State, st.Incidents)
	}
	// The right spelling is a dry run.
	if code, res := h.migrate(`{"dry_run":true}`); code != http.StatusOK || !res.DryRun {
		t.Errorf(`migrate {"dry_run":true}: %d %+v, want a 200 dry run`, code, res)
	}
}

// TestSuspectTakesTheProxysBody: the proxy's report ({"reason",
// "address"}, proxy.SuspectReport) is accepted, and the address is kept in
// the incident's reason.
func TestSuspectTakesTheProxysBody(t *testing.T) {
	h := start(t, testInventory, nil)
	h.eventually("api prepared", func() bool { return h.service("api").Standby.Prepared })
	if code, e := h.post("/v1/services/api/suspect", `{"reason":"probe miss","address":"10.9.0.12"}`); code != http.StatusAccepted {
		t.Fatalf("the proxy's suspect report: %d %+v", code, e)
	}
	h.eventually("the incident closed", func() bool { inc := h.service("api").LastIncident; return inc != nil && !inc.Open })
	if inc := h.service("api").LastIncident; inc.Reason != "probe miss (backend 10.9.0.12)" {
		t.Errorf("incident reason %q, want the proxy's reason and address", inc.Reason)
	}
}
