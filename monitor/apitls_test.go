package monitor

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/monitorapi"
	"github.com/understudy/understudy/internal/pki"
	"github.com/understudy/understudy/internal/tlsfiles"
	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/recover/embedded"
	"github.com/understudy/understudy/recover/store"
)

// apiPKI is a CA with the monitors' API certificate (server and client,
// 127.0.0.1), an operator's client certificate, and a second CA with a
// client certificate of its own.
type apiPKI struct{ dir, other string }

func newAPIPKI(t *testing.T) apiPKI {
	t.Helper()
	p := apiPKI{dir: t.TempDir(), other: t.TempDir()}
	for _, step := range []func() error{
		func() error { return pki.Init(p.dir) },
		func() error { return pki.Init(p.other) },
		func() error {
			_, _, err := pki.IssueWith(p.dir, p.dir, pki.IssueRequest{Name: "monitor-api", Server: true, AlsoClient: true, Hosts: []string{"127.0.0.1"}}, pki.Options{})
			return err
		},
		func() error { return pki.Issue(p.dir, p.dir, "operator", false, nil, time.Hour) },
		func() error { return pki.Issue(p.other, p.other, "operator", false, nil, time.Hour) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// inventory is testInventory with monitor.api-tls set.
func (p apiPKI) inventory() string {
	f := func(n string) string { return filepath.Join(p.dir, n) }
	return strings.Replace(testInventory, "  flap: {max: 100, window: 1h}\n",
		"  flap: {max: 100, window: 1h}\n  api-tls: {ca: "+f("ca.crt")+", cert: "+f("monitor-api.crt")+", key: "+f("monitor-api.key")+"}\n", 1)
}

// client is a monitor API client that trusts the monitors' CA and presents
// dir's operator certificate ("" for none).
func (p apiPKI) client(t *testing.T, base, dir string) *monitorapi.Client {
	t.Helper()
	var hc *http.Client
	if dir == "" {
		pool, err := pki.LoadPool(filepath.Join(p.dir, "ca.crt"))
		if err != nil {
			t.Fatal(err)
		}
		hc = monitorapi.HTTPClient(&tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool})
	} else {
		conf, err := tlsfiles.Client(filepath.Join(p.dir, "ca.crt"), filepath.Join(dir, "operator.crt"), filepath.Join(dir, "operator.key"))
		if err != nil {
			t.Fatal(err)
		}
		hc = monitorapi.HTTPClient(conf)
	}
	c, err := monitorapi.New(base, hc)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// httpsURL is the harness's URL with the https scheme.
func httpsURL(h *harness) string { return h.base }

func TestAPIMutualTLS(t *testing.T) {
	p := newAPIPKI(t)
	h := start(t, p.inventory(), nil)
	base := httpsURL(h)
	ctx := t.Context()

	// Refused: plain HTTP, TLS without a client certificate, a client
	// certificate from another CA. Every endpoint, /healthz included.
	plain, _ := monitorapi.New(h.url, nil)
	for _, tc := range []struct {
		name string
		cl   *monitorapi.Client
		want string // in the error
	}{
		{"plain HTTP", plain, "400 Bad Request"},
		{"no client certificate", p.client(t, base, ""), "certificate required"},
		{"a client certificate of another CA", p.client(t, base, p.other), "unknown certificate authority"},
	} {
		for _, path := range []string{"/healthz", "/metrics", "/v1/status"} {
			err := tc.cl.Get(ctx, path, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s, GET %s: err = %v, want one with %q", tc.name, path, err, tc.want)
			}
		}
		if err := tc.cl.Post(ctx, "/v1/services/web/failover", api.TriggerRequest{Reason: "intruder"}, nil); err == nil {
			t.Errorf("%s: a failover was accepted", tc.name)
		}
	}
	if s := (viewsAPI{h.ctrl}).Status(ctx).Services; len(s) != 2 || s[0].State != "primary" && s[1].State != "primary" {
		t.Errorf("after refused calls: %+v", s)
	}

	// Served: the operator's certificate of the monitors' CA.
	ok := p.client(t, base, p.dir)
	var st api.Status
	if err := ok.Get(ctx, "/v1/status", &st); err != nil || len(st.Services) != 2 {
		t.Fatalf("GET /v1/status with the right certificate: %v (%d services)", err, len(st.Services))
	}
	if err := ok.Get(ctx, "/metrics", nil); err != nil {
		t.Errorf("GET /metrics: %v", err)
	}
	err := ok.Post(ctx, "/v1/services/nope/reset", api.TriggerRequest{Reason: "test"}, nil)
	if monitorapi.Code(err) != http.StatusNotFound {
		t.Errorf("POST for an unknown service: %v, want the monitor's 404", err)
	}
}

// TestFollowerForwardsOverTLS: with api-tls, a follower passes on the
// leader's status, forwards a failover and reports a suspect over mutual
// TLS with its own certificate.
func TestFollowerForwardsOverTLS(t *testing.T) {
	p := newAPIPKI(t)
	emb, err := embedded.Start(context.Background(), embedded.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("start embedded etcd: %v", err)
	}
	t.Cleanup(func() { emb.Close() })
	a := start(t, p.inventory(), func(h *harness) {
		h.tune = func(o *Options) { o.Store, o.Etcd, o.Name, o.LeaseTTL = nil, emb.Client, "mon-a", 2e9 }
	})
	a.eventually("mon-a leads", func() bool { return a.ctrl.roles.leading() != nil })
	b := start(t, p.inventory(), func(h *harness) {
		h.agent, h.hv, h.dns, h.probes = a.agent, a.hv, a.dns, a.probes
		h.tune = func(o *Options) { o.Store, o.Etcd, o.Name, o.LeaseTTL = nil, emb.Client, "mon-b", 2e9 }
	})
	ca, cb := p.client(t, httpsURL(a), p.dir), p.client(t, httpsURL(b), p.dir)
	ctx := t.Context()
	service := func(cl *monitorapi.Client, name string) (api.ServiceStatus, []api.MonitorStatus) {
		var st api.Status
		if err := cl.Get(ctx, "/v1/status", &st); err != nil {
			t.Fatalf("status at %s: %v", cl.Base(), err)
		}
		for _, s := range st.Services {
			if s.Service == name {
				return s, st.Monitors
			}
		}
		return api.ServiceStatus{}, st.Monitors
	}
	// The follower's status is the leader's (only the leader knows what it
	// prepared), fetched over TLS.
	b.eventually("the follower passes on the leader's status", func() bool {
		s, mons := service(cb, "web")
		return len(mons) == 2 && mons[0].Name == "mon-a" && mons[0].Leader && s.Standby.Prepared
	})

	// A suspect report from the follower reaches the leader.
	_, leader, _ := b.ctrl.roles.now()
	if err := b.ctrl.report(ctx, leader, "api", "probe failed"); err != nil {
		t.Errorf("report to the leader over TLS: %v", err)
	}

	// A failover posted to the follower is forwarded to the leader.
	if err := cb.Post(ctx, "/v1/services/web/failover", api.TriggerRequest{Reason: "drill via follower over TLS"}, nil); err != nil {
		t.Fatalf("failover through the follower: %v", err)
	}
	a.eventually("web on-standby at the leader", func() bool { s, _ := service(ca, "web"); return s.State == "on-standby" })
	if s, _ := service(cb, "web"); s.LastIncident == nil || s.LastIncident.Reason != "drill via follower over TLS" {
		t.Errorf("incident seen through the follower = %+v", s.LastIncident)
	}
	if got := gathered(b.ctrl, "understudy_monitor_forwarded_total"); got != 1 {
		t.Errorf("forwarded calls counted by the follower = %v, want 1", got)
	}
}

// TestAPITLSBadFilesFailRun: Run fails early, naming the key, when the
// API's certificate cannot be loaded.
func TestAPITLSBadFilesFailRun(t *testing.T) {
	p := newAPIPKI(t)
	inv, err := parseInventory(strings.Replace(p.inventory(), "monitor-api.key", "missing.key", 1))
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(inv, Options{
		Logger: slog.New(slog.DiscardHandler), Listen: "127.0.0.1:0", Store: store.NewMemory(),
		DNS: &fakeDNS{}, Probers: (&fakeProbes{}).probers(),
		Agents:      func(inventory.Standby, TLSFiles) (Agent, error) { return newFakeAgent(), nil },
		Hypervisors: func(context.Context, inventory.Hypervisor) (Hypervisor, error) { return &fakeHV{}, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err = c.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "monitor.api-tls") || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run = %v, want a monitor.api-tls error", err)
	}
}
