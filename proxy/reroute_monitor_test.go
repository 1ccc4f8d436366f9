package proxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/understudy/understudy/ha"
	"github.com/understudy/understudy/internal/monitorapi"
	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/monitor/httpapi"
	"github.com/understudy/understudy/recover"
)

// leadingDaemon is the daemon as the monitor's real API sees it: it
// leads, knows web and api, and web's warm standby is prepared.
type leadingDaemon struct{}

func (leadingDaemon) Known(s string) bool { return s == "web" || s == "api" }
func (leadingDaemon) Trigger(context.Context, string, recover.Source, string) error {
	panic("a reroute report must not reach the executor")
}
func (leadingDaemon) Reset(context.Context, string, string) error    { return nil }
func (leadingDaemon) Failback(context.Context, string, string) error { return nil }
func (leadingDaemon) Migrate(context.Context, string, api.MigrateRequest) (api.MigrateResponse, error) {
	return api.MigrateResponse{}, nil
}
func (leadingDaemon) State(string) string { return "primary" }
func (leadingDaemon) Health() api.Health  { return api.Health{OK: true} }
func (leadingDaemon) Status(context.Context) api.Status {
	return api.Status{Services: []api.ServiceStatus{
		{Service: "web", Standby: api.StandbyStatus{Prepared: true, Address: "10.200.1.25/24"}},
		{Service: "api", Standby: api.StandbyStatus{Prepared: false, Address: "10.200.1.26"}},
	}}
}
func (leadingDaemon) LeaderStatus(context.Context) (api.Status, error) {
	return api.Status{}, httpapi.ErrNoLeader
}
func (leadingDaemon) Placements(context.Context, bool) ([]recover.Placement, <-chan recover.Placement, error) {
	return nil, nil, nil
}
func (leadingDaemon) AwaitRole(context.Context) (*ha.Leader, error) { return nil, nil }
func (leadingDaemon) Leading() bool                                 { return true }
func (leadingDaemon) KeepSuspect(string, string)                    {}

// TestMonitorClientReroute: against the monitor's own API, the client
// learns the prepared standby addresses from the status, and its reroute
// report, with the API's token, shows in that status.
func TestMonitorClientReroute(t *testing.T) {
	d := leadingDaemon{}
	srv := httptest.NewServer(httpapi.New(httpapi.Config{Incidents: d, Views: d, Leadership: d,
		Auth: httpapi.Auth{Token: func() string { return "tok" }}}).Handler())
	t.Cleanup(srv.Close)
	ctx := context.Background()

	anon, err := NewMonitorClient(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := anon.ReportReroute(ctx, "web", RerouteReport{Proxy: "px", Active: true}); err == nil {
		t.Fatal("a report without the token was taken")
	}
	c, err := NewMonitorClient(srv.URL, monitorapi.WithToken(&http.Client{}, "tok"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Standbys(ctx)
	if err != nil {
		t.Fatalf("Standbys: %v", err)
	}
	if len(got) != 1 || got["web"] != netip.MustParseAddr("10.200.1.25") {
		t.Errorf("Standbys = %v, want web at 10.200.1.25 only (api's is not prepared)", got)
	}
	if err := c.ReportReroute(ctx, "web", RerouteReport{Proxy: "px", Active: true, Primary: "10.200.0.146", Standby: "10.200.1.25"}); err != nil {
		t.Fatalf("ReportReroute: %v", err)
	}
	if err := c.ReportReroute(ctx, "nope", RerouteReport{Proxy: "px", Active: true}); err == nil {
		t.Error("a report about an unknown service was taken")
	}
	st, ok, err := monitorClientAPI(t, srv.URL).ServiceStatus(ctx, "web")
	if err != nil || !ok {
		t.Fatalf("status: %v %v", ok, err)
	}
	if len(st.Rerouted) != 1 || st.Rerouted[0].Proxy != "px" || st.Rerouted[0].Standby != "10.200.1.25" {
		t.Errorf("status rerouted = %+v, want px to 10.200.1.25", st.Rerouted)
	}
}

func monitorClientAPI(t *testing.T, base string) *monitorapi.Client {
	c, err := monitorapi.New(base, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
