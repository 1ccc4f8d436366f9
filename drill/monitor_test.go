package drill

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/controller"
)

// TestHTTPMonitorReadsControllerStatus keeps the drill's view of GET
// /v1/status in step with the controller's JSON names.
func TestHTTPMonitorReadsControllerStatus(t *testing.T) {
	at := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	want := controller.Status{Services: []controller.ServiceStatus{{
		Service: "web", State: "on-standby", Where: "standby", Address: "10.200.1.101", Incidents: 3,
		Standby: controller.Standby{Name: "standby-1", Prepared: true, Address: "10.200.1.101"},
		LastIncident: &controller.IncidentStatus{ID: "web-3", Result: "recovered", Source: "proxy", Opened: at,
			Phases: []controller.PhaseStatus{{Phase: "detected", At: at}, {Phase: "dns-flipped", At: at.Add(583 * time.Millisecond)}}},
	}}}
	var resets []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/healthz":
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": true})
		case r.URL.Path == "/v1/status":
			_ = json.NewEncoder(w).Encode(want)
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/reset"):
			resets = append(resets, r.URL.Path)
			w.WriteHeader(http.StatusConflict)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "already on its primary"})
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	m := &HTTPMonitor{Base: srv.URL}
	ctx := context.Background()
	if err := m.Healthy(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := m.Service(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	inc := st.LastIncident
	if st.State != "on-standby" || st.Incidents != 3 || !st.Standby.Prepared || inc == nil || inc.ID != "web-3" ||
		inc.Result != "recovered" || !inc.Opened.Equal(at) || !inc.Phase(phDNSFlipped).Equal(at.Add(583*time.Millisecond)) {
		t.Errorf("decoded %+v (incident %+v)", st, inc)
	}
	if _, err := m.Service(ctx, "nope"); err == nil {
		t.Error("a service the monitor does not list was found")
	}
	err = m.Reset(ctx, "web", "test")
	if err == nil || !strings.Contains(err.Error(), "already on its primary") || len(resets) != 1 || resets[0] != "/v1/services/web/reset" {
		t.Errorf("Reset = %v, calls %v", err, resets)
	}
}
