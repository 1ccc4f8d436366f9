package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/understudy/understudy/internal/clock/clocktest"
	"github.com/understudy/understudy/monitor/api"
)

// statusDaemon is a countingDaemon whose status lists web and api.
type statusDaemon struct{ countingDaemon }

func (d *statusDaemon) Status(context.Context) api.Status {
	return api.Status{Services: []api.ServiceStatus{{Service: "api"}, {Service: "web"}}}
}

// rerouteWorld is an API with a token, a fake clock and a registry.
type rerouteWorld struct {
	t   *testing.T
	clk *clocktest.Fake
	d   *statusDaemon
	reg *prometheus.Registry
	h   http.Handler
}

func newRerouteWorld(t *testing.T) *rerouteWorld {
	w := &rerouteWorld{t: t, clk: clocktest.NewFake(), d: &statusDaemon{}, reg: prometheus.NewRegistry()}
	s := New(Config{Incidents: w.d, Views: w.d, Leadership: w.d, Clock: w.clk, Registerer: w.reg, Gatherer: w.reg,
		Auth: Auth{Token: func() string { return "tok" }}})
	w.h = s.Handler()
	return w
}

// post sends a reroute report about web with token tok and returns the code.
func (w *rerouteWorld) post(tok string, req api.RerouteRequest) int {
	w.t.Helper()
	b, _ := json.Marshal(req)
	r := httptest.NewRequest(http.MethodPost, "/v1/services/web/reroute", strings.NewReader(string(b)))
	r.Header.Set("Content-Type", "application/json")
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, r)
	return rec.Code
}

// rerouted returns web's Rerouted in GET /v1/status.
func (w *rerouteWorld) rerouted() []api.RerouteStatus {
	w.t.Helper()
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/status", nil))
	var st api.Status
	if err := json.NewDecoder(rec.Body).Decode(&st); err != nil {
		w.t.Fatalf("decode status: %v", err)
	}
	for _, s := range st.Services {
		if s.Service == "web" {
			return s.Rerouted
		}
		if len(s.Rerouted) != 0 {
			w.t.Errorf("service %s shows reroutes %v; only web was reported", s.Service, s.Rerouted)
		}
	}
	w.t.Fatal("web missing from status")
	return nil
}

// gauge is understudy_monitor_proxy_reroutes{service="web"}.
func (w *rerouteWorld) gauge() float64 {
	w.t.Helper()
	mfs, err := w.reg.Gather()
	if err != nil {
		w.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "understudy_monitor_proxy_reroutes" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == "web" {
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

// TestRerouteReportShowsInStatus: a proxy's reroute report needs the
// token like a suspect report, shows in status as "rerouted by proxy P
// since T" and in the gauge, opens no incident, and goes with the
// proxy's report that it is back on the primary.
func TestRerouteReportShowsInStatus(t *testing.T) {
	w := newRerouteWorld(t)
	since := w.clk.Now().Add(-time.Second)
	req := api.RerouteRequest{Proxy: "px1", Active: true, Primary: "10.0.0.1", Standby: "10.0.1.1", Reason: "probe miss", Since: since}
	if code := w.post("", req); code != http.StatusUnauthorized {
		t.Fatalf("report without a token: %d, want 401", code)
	}
	if code := w.post("wrong", req); code != http.StatusUnauthorized {
		t.Fatalf("report with a wrong token: %d, want 401", code)
	}
	if got := w.rerouted(); len(got) != 0 {
		t.Fatalf("refused reports show in status: %v", got)
	}
	if code := w.post("tok", req); code != http.StatusOK {
		t.Fatalf("report: %d, want 200", code)
	}
	got := w.rerouted()
	if len(got) != 1 || got[0].Proxy != "px1" || !got[0].Since.Equal(since) || got[0].Standby != "10.0.1.1" || got[0].Primary != "10.0.0.1" {
		t.Fatalf("status rerouted = %+v, want px1 since %v to 10.0.1.1", got, since)
	}
	if g := w.gauge(); g != 1 {
		t.Errorf("gauge = %v, want 1", g)
	}
	req2 := req
	req2.Proxy, req2.Since = "px2", time.Time{}
	w.post("tok", req2)
	if got := w.rerouted(); len(got) != 2 || got[1].Proxy != "px2" || !got[1].Since.Equal(w.clk.Now()) {
		t.Fatalf("second proxy: %+v, want px1 and px2 (since the monitor heard of it)", got)
	}
	if g := w.gauge(); g != 2 {
		t.Errorf("gauge = %v, want 2", g)
	}
	w.post("tok", api.RerouteRequest{Proxy: "px1"})
	if got := w.rerouted(); len(got) != 1 || got[0].Proxy != "px2" {
		t.Fatalf("after px1 went back: %+v, want px2 only", got)
	}
	if w.d.triggers != 0 {
		t.Errorf("reroute reports reached the executor %d times; they must open no incident", w.d.triggers)
	}
}

// TestRerouteReportExpires: an active report not repeated within
// api.RerouteTTL is dropped (a proxy that died while rerouting); a repeat
// keeps it and its first Since.
func TestRerouteReportExpires(t *testing.T) {
	w := newRerouteWorld(t)
	first := w.clk.Now()
	w.post("tok", api.RerouteRequest{Proxy: "px1", Active: true})
	w.clk.Advance(api.RerouteTTL - time.Second)
	w.post("tok", api.RerouteRequest{Proxy: "px1", Active: true})
	w.clk.Advance(api.RerouteTTL - time.Second)
	got := w.rerouted()
	if len(got) != 1 || !got[0].Since.Equal(first) {
		t.Fatalf("repeated report: %+v, want px1 since %v", got, first)
	}
	w.clk.Advance(2 * time.Second)
	if got := w.rerouted(); len(got) != 0 {
		t.Fatalf("a report older than the TTL is still shown: %+v", got)
	}
	if g := testutil.CollectAndCount(w.reg, "understudy_monitor_proxy_reroutes"); g != 0 {
		t.Errorf("%d gauge series after expiry, want 0", g)
	}
}
