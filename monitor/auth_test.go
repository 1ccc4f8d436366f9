package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/understudy/understudy/internal/monitorapi"
	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/monitor/httpapi"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/store"
)

// mutations are the API's calls that change something, each with a body
// it would accept.
var mutations = []struct{ path, body string }{
	{"/v1/services/web/suspect", `{"reason":"x"}`},
	{"/v1/services/web/failover", ``},
	{"/v1/services/web/reset", `{"reason":"x"}`},
	{"/v1/services/web/migrate", `{"to":"spare-1"}`},
	{"/v1/services/web/failback", ``},
}

// assertUntouched fails unless web still runs on its primary, unfenced,
// with DNS on the primary's address, and no incident was opened.
func (h *harness) assertUntouched(what string) {
	h.t.Helper()
	h.hv.mu.Lock()
	stopped := len(h.hv.stopped)
	h.hv.mu.Unlock()
	if stopped != 0 {
		h.t.Errorf("%s: the hypervisor stopped %d instance(s); the primary must not be fenced", what, stopped)
	}
	h.dns.mu.Lock()
	flips := h.dns.flips
	h.dns.mu.Unlock()
	if got := h.dns.get("web.lab.test."); flips != 0 || !slices.Equal(got, []netip.Addr{netip.MustParseAddr("10.9.0.11")}) {
		h.t.Errorf("%s: DNS flipped %d time(s), web = %v; want it untouched on 10.9.0.11", what, flips, got)
	}
	if st := h.service("web"); st.State != "primary" || st.Incidents != 0 {
		h.t.Errorf("%s: web is %s with %d incident(s), want primary with none", what, st.State, st.Incidents)
	}
}

// rawPost POSTs body to h without the harness's credential, with the
// content type and Authorization header given ("" for none).
func (h *harness) rawPost(path, body, ctype, auth string) (int, string) {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.base+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestMutationsNeedCredential: on loopback and without api-tls, every call
// that changes something needs the bearer token of monitor.api-token-file
// (401 without it or with a wrong one) and a JSON body (415 for a form,
// which a browser can post across sites); a monitor with neither api-tls
// nor a token file takes no changes at all. None of the refused calls
// fences the primary, changes DNS or opens an incident.
func TestMutationsNeedCredential(t *testing.T) {
	h := start(t, spareInventory, nil)
	h.eventually("web prepared", func() bool { return h.service("web").Standby.Prepared })
	for _, m := range mutations {
		for _, tc := range []struct {
			name, ctype, auth string
			want              int
		}{
			{"no credential", "application/json", "", http.StatusUnauthorized},
			{"a wrong token", "application/json", "Bearer not-the-token", http.StatusUnauthorized},
			{"basic auth", "application/json", "Basic aGFybmVzcy10b2tlbg==", http.StatusUnauthorized},
			{"a form with the token", "application/x-www-form-urlencoded", "Bearer harness-token", http.StatusUnsupportedMediaType},
			{"no content type with the token", "", "Bearer harness-token", http.StatusUnsupportedMediaType},
		} {
			code, body := h.rawPost(m.path, m.body, tc.ctype, tc.auth)
			if code != tc.want {
				t.Errorf("POST %s, %s: %d %s, want %d", m.path, tc.name, code, body, tc.want)
			}
			if strings.Contains(body, "harness-token") {
				t.Errorf("POST %s, %s: the answer shows the token: %s", m.path, tc.name, body)
			}
		}
	}
	h.assertUntouched("after refused calls")
	if got := gathered(h.ctrl, "understudy_monitor_api_refused_total", "reason", "credential"); got != 15 {
		t.Errorf("understudy_monitor_api_refused_total{reason=credential} = %v, want 15", got)
	}
	// With the token and JSON, the same call is served.
	if code, body := h.rawPost("/v1/services/web/failover", `{"reason":"with the token"}`, "application/json; charset=utf-8", "Bearer harness-token"); code != http.StatusAccepted {
		t.Fatalf("failover with the token: %d %s", code, body)
	}
	h.eventually("web on-standby", func() bool { return h.service("web").State == "on-standby" })

	// Neither api-tls nor api-token-file: no change is taken, whatever is sent.
	bare := start(t, testInventory, func(b *harness) { b.noToken = true })
	for _, m := range mutations {
		if code, body := bare.rawPost(m.path, m.body, "application/json", "Bearer harness-token"); code != http.StatusUnauthorized || !strings.Contains(body, "monitor.api-token-file") {
			t.Errorf("POST %s to a monitor without credentials: %d %s, want 401 naming the keys", m.path, code, body)
		}
	}
	bare.assertUntouched("a monitor without credentials")
}

// TestRunRefusesInsecureNonLoopbackAPI: the monitor refuses to serve a
// plain-HTTP API on an address other machines reach (all interfaces here)
// unless monitor.insecure-api is set (New already, before any I/O; Run's
// listen checks again); loopback needs nothing.
func TestRunRefusesInsecureNonLoopbackAPI(t *testing.T) {
	run := func(listen string, insecure bool) (net.Addr, error) {
		inv, err := parseInventory(testInventory)
		if err != nil {
			t.Fatal(err)
		}
		inv.Monitor.InsecureAPI = insecure
		served := make(chan net.Addr, 1)
		c, err := New(inv, Options{
			Logger: slog.New(slog.DiscardHandler), Listen: listen, Store: store.NewMemory(),
			DNS: &fakeDNS{records: map[string][]netip.Addr{}}, Probers: (&fakeProbes{failing: map[string]bool{}}).probers(),
			Agents: func(inventory.Standby, TLSFiles) (Agent, error) { return newFakeAgent(), nil },
			Hypervisors: func(context.Context, inventory.Hypervisor) (Hypervisor, error) {
				return &fakeHV{stopped: map[string]bool{}}, nil
			},
			Serving: func(a net.Addr) { served <- a },
		})
		if err != nil {
			return nil, err // refused before Run, before any I/O
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		defer func() { cancel(); <-done }()
		select {
		case a := <-served:
			return a, nil
		case err := <-done:
			done <- err
			return nil, err
		}
	}
	for _, listen := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		if a, err := run(listen, false); !errors.Is(err, httpapi.ErrInsecureAPI) {
			t.Errorf("Run on %s without api-tls: served on %v, err %v; want ErrInsecureAPI", listen, a, err)
		}
	}
	if _, err := run("0.0.0.0:0", true); err != nil {
		t.Errorf("Run on 0.0.0.0 with insecure-api: %v", err)
	}
	if _, err := run("127.0.0.1:0", false); err != nil {
		t.Errorf("Run on loopback: %v", err)
	}
}

// TestVantageNeedsMonitorCertificate: a suspect report's vantage header
// (a follower's monitor saw it fail) counts only when the caller presents
// the monitors' certificate; an operator's certificate of the same CA that
// sends it is a proxy-grade report, also through a follower, which
// forwards with its own (monitor) certificate.
func TestVantageNeedsMonitorCertificate(t *testing.T) {
	p := newAPIPKI(t)
	a, b := startPairOn(t, p.inventory(), false)
	a.eventually("web and api prepared", func() bool {
		return a.service("web").Standby.Prepared && a.service("api").Standby.Prepared
	})
	suspect := func(cl *monitorapi.Client, svc string) api.TriggerResponse {
		t.Helper()
		hdr := http.Header{api.VantageHeader: {"mon-b"}}
		resp, err := cl.Do(t.Context(), http.MethodPost, "/v1/services/"+svc+"/suspect", api.TriggerRequest{Reason: "spoofed"}, hdr)
		if err != nil {
			t.Fatal(err)
		}
		var tr api.TriggerResponse
		if err := json.Unmarshal(resp.Body, &tr); err != nil || resp.Code != http.StatusAccepted {
			t.Fatalf("suspect %s: %s %s", svc, resp.Status, resp.Body)
		}
		return tr
	}
	operator := p.client(t, a.base, p.dir)
	if tr := suspect(operator, "web"); tr.Source != string(recover.FromProxy) {
		t.Errorf("an operator's vantage header at the leader: source %q, want proxy", tr.Source)
	}
	if tr := suspect(p.client(t, b.base, p.dir), "api"); tr.Source != string(recover.FromProxy) {
		t.Errorf("an operator's vantage header through the follower: source %q, want proxy", tr.Source)
	}
	for _, svc := range []string{"web", "api"} {
		a.eventually(svc+"'s incident closed", func() bool { inc := a.service(svc).LastIncident; return inc != nil && !inc.Open })
		if inc := a.service(svc).LastIncident; inc.Source != string(recover.FromProxy) {
			t.Errorf("%s's incident opened by %q, want proxy", svc, inc.Source)
		}
	}
	// The monitors' own certificate (the harness's client) is a monitor
	// (a report coalesced with the last one still names its source).
	resp := a.request(http.MethodPost, "/v1/services/web/suspect", `{"reason":"from a monitor"}`, http.Header{api.VantageHeader: {"mon-b"}})
	defer resp.Body.Close()
	var tr api.TriggerResponse
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil {
		t.Fatal(err)
	}
	if tr.Source != string(recover.FromMonitor) {
		t.Errorf("the monitors' certificate with a vantage header: %+v, want source monitor", tr)
	}
}
