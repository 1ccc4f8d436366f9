package monitorapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/monitor/api"
)

// statusServer answers /v1/status with one service, web, as given.
func statusServer(t *testing.T, web api.ServiceStatus) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(api.Status{Services: []api.ServiceStatus{web}})
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestServiceStatusAndLastIncident(t *testing.T) {
	c := statusServer(t, api.ServiceStatus{Service: "web", State: "primary", LastIncident: &api.IncidentStatus{ID: "web-4"}})
	if s, ok, err := c.ServiceStatus(context.Background(), "web"); err != nil || !ok || s.State != "primary" {
		t.Errorf("ServiceStatus(web) = %+v, %v, %v", s, ok, err)
	}
	if _, ok, err := c.ServiceStatus(context.Background(), "nope"); err != nil || ok {
		t.Errorf("ServiceStatus(nope) = %v, %v; want not found", ok, err)
	}
	if id, err := c.LastIncidentID(context.Background(), "web"); err != nil || id != "web-4" {
		t.Errorf("LastIncidentID = %q, %v", id, err)
	}
	if id, err := c.LastIncidentID(context.Background(), "nope"); err != nil || id != "" {
		t.Errorf("LastIncidentID(nope) = %q, %v", id, err)
	}
}

// TestWaitMove: the move's own incident decides; an earlier one, a stuck
// service and a wrong result do not pass.
func TestWaitMove(t *testing.T) {
	done := api.ServiceStatus{Service: "web", State: "on-spare", Where: "spare", Host: "spare-1", Address: "192.0.2.5",
		LastIncident: &api.IncidentStatus{ID: "web-2", Result: "migrated", TotalMS: 1300}}
	for _, tc := range []struct {
		name, before, want, wantErr, wantOut string
		web                                  api.ServiceStatus
	}{
		{name: "ended as asked", before: "web-1", want: "migrated", web: done,
			wantOut: "web: migrated in 1300 ms; now on-spare on spare/spare-1 at 192.0.2.5\n"},
		{name: "ended otherwise", before: "web-1", want: "failed-back", web: done, wantErr: `web-2 ended "migrated", not "failed-back"`},
		{name: "stuck", before: "web-1", want: "migrated", wantErr: "web is stuck: fence",
			web: api.ServiceStatus{Service: "web", State: "stuck", LastIncident: &api.IncidentStatus{ID: "web-2", Open: true, Stuck: "fence"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := statusServer(t, tc.web)
			var out bytes.Buffer
			err := c.WaitMove(context.Background(), &out, "web", tc.before, time.Minute, tc.want)
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
			if tc.wantOut != "" && out.String() != tc.wantOut {
				t.Errorf("printed %q, want %q", out.String(), tc.wantOut)
			}
		})
	}
	if err := statusServer(t, done).WaitMove(context.Background(), &bytes.Buffer{}, "web", "web-2", 0, "migrated"); err != nil {
		t.Errorf("wait 0: %v, want no wait", err)
	}
}
