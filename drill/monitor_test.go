package drill

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/monitorapi"
	"github.com/understudy/understudy/internal/pki"
	"github.com/understudy/understudy/internal/tlsfiles"
	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/recover"
)

// TestHTTPMonitorReadsControllerStatus keeps the drill's view of GET
// /v1/status in step with the controller's JSON names.
func TestHTTPMonitorReadsControllerStatus(t *testing.T) {
	at := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	want := api.Status{Services: []api.ServiceStatus{{
		Service: "web", State: "on-standby", Where: "standby", Address: "10.200.1.101", Incidents: 3,
		Standby: api.StandbyStatus{Name: "standby-1", Prepared: true, Address: "10.200.1.101"},
		LastIncident: &api.IncidentStatus{ID: "web-3", Result: "recovered", Source: "proxy", Opened: at,
			Phases: []api.PhaseStatus{{Phase: "detected", At: at}, {Phase: "dns-flipped", At: at.Add(583 * time.Millisecond)}}},
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
		inc.Result != "recovered" || !inc.Opened.Equal(at) || !inc.Phase(recover.PhaseDNSFlipped).Equal(at.Add(583*time.Millisecond)) {
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

// TestHTTPMonitorOverMutualTLS: with a client carrying a certificate, the
// drill's monitor client reaches a monitor that requires one (api-tls);
// without it the monitor refuses.
func TestHTTPMonitorOverMutualTLS(t *testing.T) {
	dir := t.TempDir()
	if err := pki.Init(dir); err != nil {
		t.Fatal(err)
	}
	if _, _, err := pki.IssueWith(dir, dir, pki.IssueRequest{Name: "monitor-api", Server: true, AlsoClient: true, Hosts: []string{"127.0.0.1"}}, pki.Options{}); err != nil {
		t.Fatal(err)
	}
	p := func(f string) string { return filepath.Join(dir, f) }
	srvTLS, err := tlsfiles.NewServer(p("monitor-api.crt"), p("monitor-api.key"), p("ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true})
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.TLS = srvTLS.Config()
	srv.StartTLS()
	defer srv.Close()

	conf, err := monitorapi.TLSConfig(inventory.TLSFiles{CA: p("ca.crt"), Cert: p("monitor-api.crt"), Key: p("monitor-api.key")})
	if err != nil {
		t.Fatal(err)
	}
	m := &HTTPMonitor{Base: srv.URL, Client: monitorapi.HTTPClient(conf)}
	if err := m.Healthy(t.Context()); err != nil {
		t.Errorf("Healthy with the client certificate: %v", err)
	}
	pool, _ := pki.LoadPool(p("ca.crt"))
	noCert := &HTTPMonitor{Base: srv.URL, Client: monitorapi.HTTPClient(&tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool})}
	if err := noCert.Healthy(t.Context()); err == nil || !strings.Contains(err.Error(), "certificate required") {
		t.Errorf("Healthy without a client certificate: %v, want certificate required", err)
	}
}

// TestHTTPMonitorResetOutlastsClientTimeout: a reset may take the
// monitor's 30 s, longer than the client's timeout for the other calls;
// the reset call waits for its answer while a status call through the same
// client still times out.
func TestHTTPMonitorResetOutlastsClientTimeout(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/services/web/reset" {
			close(arrived)
		}
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"service":"web","state":"primary"}`))
	}))
	defer srv.Close()
	m := &HTTPMonitor{Base: srv.URL, Client: &http.Client{Timeout: 50 * time.Millisecond}}
	done := make(chan error, 1)
	go func() { done <- m.Reset(t.Context(), "web", "drill restore") }()
	<-arrived
	if err := m.Healthy(t.Context()); err == nil {
		t.Error("a health call to a monitor that does not answer: no error, want the client's timeout")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("reset that outlasts the client's timeout: %v", err)
	}
}
