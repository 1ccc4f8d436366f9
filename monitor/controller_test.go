package monitor

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/monitorapi"
	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/executor"
	"github.com/understudy/understudy/recover/store"
)

// harness is a controller running on fakes.
type harness struct {
	t      *testing.T
	ctrl   *Controller
	url    string
	agent  *fakeAgent
	hv     *fakeHV
	dns    *fakeDNS
	probes *fakeProbes
	store  *store.Memory
	// migrator replaces the lxd copy to spares when set (by mutate).
	migrator executor.Migrator
	// tune, when set (by mutate), changes the options before New.
	tune func(*Options)
	// stop stops the controller and waits for Run to return; later calls
	// (the test's cleanup) do nothing.
	stop func()
	// tokenFile is monitor.api-token-file of an inventory without api-tls
	// (start writes one unless mutate set it: monitors of a pair share it);
	// client presents it, or api-tls's certificate, on every call to base.
	tokenFile string
	noToken   bool // set by mutate: no api-token-file either
	client    *http.Client
	base      string
}

func start(t *testing.T, text string, mutate func(*harness)) *harness {
	t.Helper()
	inv, err := parseInventory(text)
	if err != nil {
		t.Fatalf("inventory: %v", err)
	}
	h := &harness{
		t: t, agent: newFakeAgent(), hv: &fakeHV{stopped: map[string]bool{}},
		dns:    &fakeDNS{records: map[string][]netip.Addr{}},
		probes: &fakeProbes{failing: map[string]bool{}},
		store:  store.NewMemory(),
	}
	for _, vm := range inv.VMs {
		h.agent.setReachable(vm.Address, true)
	}
	for _, s := range inv.Services {
		h.dns.records[s.FQDN] = []netip.Addr{netip.MustParseAddr(inv.VM(s.VM).Address)}
	}
	if mutate != nil {
		mutate(h)
	}
	if inv.Monitor.APITLS.IsZero() && inv.Monitor.APITokenFile == "" && !h.noToken {
		if h.tokenFile == "" {
			h.tokenFile = writeToken(t, "harness-token")
		}
		inv.Monitor.APITokenFile = h.tokenFile
	}
	if h.client, err = monitorapi.ClientOf(inv.Monitor); err != nil {
		t.Fatalf("API client: %v", err)
	}
	addrc := make(chan net.Addr, 1)
	opts := Options{
		Logger: slog.New(slog.DiscardHandler), Listen: "127.0.0.1:0", Serving: func(a net.Addr) { addrc <- a },
		Store: h.store, DNS: h.dns, Probers: h.probes.probers(),
		Agents:      func(inventory.Standby, TLSFiles) (Agent, error) { return h.agent, nil },
		Hypervisors: func(context.Context, inventory.Hypervisor) (Hypervisor, error) { return h.hv, nil },
		Keepalive:   50 * time.Millisecond, PrepareRetry: 20 * time.Millisecond,
		Migrator: h.migrator,
	}
	if h.tune != nil {
		h.tune(&opts)
	}
	h.ctrl, err = New(inv, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.ctrl.Run(ctx) }()
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(h.stop)
	select {
	case a := <-addrc:
		h.url = "http://" + a.String()
		h.base = inv.Monitor.APIScheme() + "://" + a.String()
	case err := <-done:
		t.Fatalf("Run returned early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("controller not serving after 10s")
	}
	return h
}

// eventually polls cond until it holds, failing the test after 10s.
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			h.t.Fatalf("never: %s", what)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (h *harness) status() api.Status {
	h.t.Helper()
	var st api.Status
	h.getJSON("/v1/status", &st)
	return st
}

func (h *harness) service(name string) api.ServiceStatus {
	h.t.Helper()
	for _, s := range h.status().Services {
		if s.Service == name {
			return s
		}
	}
	h.t.Fatalf("service %q not in status", name)
	return api.ServiceStatus{}
}

func (h *harness) getJSON(path string, v any) {
	h.t.Helper()
	resp := h.request(http.MethodGet, path, "", nil)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		h.t.Fatalf("GET %s: %v", path, err)
	}
}

// request sends method path with body (JSON, "" for none) and the extra
// header with the harness's credential; the caller closes the answer.
func (h *harness) request(method, path, body string, hdr http.Header) *http.Response {
	h.t.Helper()
	req, err := http.NewRequest(method, h.base+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if method != http.MethodGet {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

func (h *harness) post(path, body string) (int, api.Error) {
	h.t.Helper()
	resp := h.request(http.MethodPost, path, body, nil)
	defer resp.Body.Close()
	var e api.Error
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &e)
	return resp.StatusCode, e
}

// writeToken writes a bearer token file (mode 0600) and returns its path.
func writeToken(t *testing.T, token string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "api.token")
	if err := os.WriteFile(p, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestStartPreparesAndReportsPrimary(t *testing.T) {
	h := start(t, testInventory, nil)
	h.eventually("both services prepared", func() bool {
		st := h.status()
		return len(st.Services) == 2 && st.Services[0].Standby.Prepared && st.Services[1].Standby.Prepared
	})
	prepared, _, _ := h.agent.snapshot()
	if got := prepared["web"]; got.Mode != "warm" || got.Port != 80 || got.Memory != 64<<20 || got.Image != "busybox" || got.Epoch != 1 {
		t.Errorf("web prepared as %+v", got)
	}
	if got := prepared["api"]; got.Mode != "cold" || got.Port != 8080 {
		t.Errorf("api prepared as %+v", got)
	}
	st := h.service("web")
	if st.State != "primary" || st.Where != "primary" || st.Host != "web-vm" || st.Address != "10.9.0.11" || st.LastIncident != nil {
		t.Errorf("web status = %+v", st)
	}
	var snap api.PlacementEvent
	h.getJSON("/v1/placements", &snap)
	if snap.Type != "snapshot" || len(snap.Placements) != 2 || snap.Placements[1].Service != "web" || snap.Placements[1].Where != "primary" {
		t.Errorf("placements = %+v", snap)
	}
	var hz map[string]any
	h.getJSON("/healthz", &hz)
	if hz["ok"] != true {
		t.Errorf("healthz = %v", hz)
	}
}

func TestManualFailoverStreamAndReset(t *testing.T) {
	h := start(t, testInventory, nil)
	h.eventually("web prepared", func() bool { return h.service("web").Standby.Prepared })

	resp, err := http.Get(h.url + "/v1/placements?watch=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	next := func() api.PlacementEvent {
		t.Helper()
		for lines.Scan() {
			var ev api.PlacementEvent
			if err := json.Unmarshal(lines.Bytes(), &ev); err != nil {
				t.Fatalf("stream line %q: %v", lines.Text(), err)
			}
			if ev.Type != "keepalive" {
				return ev
			}
		}
		t.Fatalf("stream ended: %v", lines.Err())
		return api.PlacementEvent{}
	}
	if ev := next(); ev.Type != "snapshot" || len(ev.Placements) != 2 {
		t.Fatalf("first line = %+v, want a snapshot of 2", ev)
	}

	if code, e := h.post("/v1/services/web/failover", `{"reason":"drill"}`); code != http.StatusAccepted {
		t.Fatalf("failover: %d %+v", code, e)
	}
	var change api.PlacementEvent
	for change.Type == "" || change.Placements[0].Where != "standby" {
		change = next()
	}
	if p := change.Placements[0]; p.Service != "web" || p.Address.String() != "10.9.1.11" {
		t.Errorf("change = %+v", p)
	}
	h.eventually("web on-standby", func() bool { return h.service("web").State == "on-standby" })
	st := h.service("web")
	inc := st.LastIncident
	if inc == nil || inc.Source != "cli" || inc.Reason != "drill" || inc.Result != "recovered" || inc.To != "10.9.1.11" || inc.TotalMS <= 0 && len(inc.Phases) < 2 {
		t.Fatalf("incident = %+v", inc)
	}
	if got := h.dns.get("web.lab.test."); len(got) != 1 || got[0].String() != "10.9.1.11" {
		t.Errorf("DNS = %v", got)
	}
	if !h.hv.stopped["web-vm"] {
		t.Error("the primary was not fenced")
	}

	if code, e := h.post("/v1/services/web/failover", ""); code != http.StatusConflict || e.State != "on-standby" {
		t.Errorf("second failover: %d %+v, want 409 on-standby", code, e)
	}
	for _, path := range []string{"/v1/services/nope/failover", "/v1/services/nope/suspect", "/v1/services/nope/suspect", "/v1/services/nope/reset"} {
		if code, _ := h.post(path, ""); code != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", path, code)
		}
	}
	if code, _ := h.post("/v1/services/web/suspect", "{bad"); code != http.StatusBadRequest {
		t.Errorf("bad body: %d, want 400", code)
	}

	if code, e := h.post("/v1/services/web/reset", ""); code != http.StatusAccepted {
		t.Fatalf("reset: %d %+v", code, e)
	}
	if got := h.dns.get("web.lab.test."); len(got) != 1 || got[0].String() != "10.9.0.11" {
		t.Errorf("DNS after reset = %v", got)
	}
	// The reset is an incident of its own (kind reset): the second.
	if st := h.service("web"); st.State != "primary" || st.Address != "10.9.0.11" || st.Incidents != 2 ||
		st.LastIncident == nil || st.LastIncident.Result != "reset" {
		t.Errorf("after reset: %+v", st)
	}
	if _, active, _ := h.agent.snapshot(); active["web"] {
		t.Error("the standby container is still active after reset")
	}
	if code, _ := h.post("/v1/services/web/reset", ""); code != http.StatusConflict {
		t.Errorf("reset on primary: %d, want 409", code)
	}
}

func TestMonitorFailureFailsOver(t *testing.T) {
	h := start(t, testInventory, nil)
	h.eventually("api prepared", func() bool { return h.service("api").Standby.Prepared })
	// api-vm dies: the hypervisor says so, its address and port are silent,
	// and the agent cannot reach it either.
	h.agent.setReachable("10.9.0.12", false)
	h.hv.Stop(context.Background(), "api-vm", 0)
	h.probes.set("10.9.0.12", true)
	h.probes.set("vm/api-vm/instance", true)
	h.eventually("api on-standby", func() bool { return h.service("api").State == "on-standby" })
	inc := h.service("api").LastIncident
	if inc.Source != "monitor" || !strings.Contains(inc.Reason, "confirmed: standby agent") {
		t.Errorf("incident opened by %s: %q", inc.Source, inc.Reason)
	}
	if confirm := inc.Steps[0]; confirm.Kind != "confirm" || !strings.Contains(confirm.Note, "monitor's agent confirmation") {
		t.Errorf("confirm step = %+v; want it to use the monitor's confirmation instead of asking again", confirm)
	}
	if web := h.service("web"); web.State != "primary" {
		t.Errorf("web = %s, want primary", web.State)
	}
	var reg = h.ctrl.reg
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, want := range []string{"understudy_monitor_triggers_total", "understudy_recover_incidents_total", "understudy_probe_duration_seconds"} {
		if !names[want] {
			t.Errorf("metric %s not registered", want)
		}
	}
}

func TestSuspectIsConfirmedByTheAgent(t *testing.T) {
	h := start(t, testInventory, nil)
	if code, e := h.post("/v1/services/api/suspect", ""); code != http.StatusAccepted {
		t.Fatalf("suspect: %d %+v", code, e)
	}
	var again api.TriggerResponse
	resp := h.request(http.MethodPost, "/v1/services/api/suspect", "", nil)
	json.NewDecoder(resp.Body).Decode(&again)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || !again.Coalesced {
		t.Errorf("a second suspect right after the first: %s %+v, want 202 coalesced", resp.Status, again)
	}
	h.eventually("the incident closed", func() bool {
		inc := h.service("api").LastIncident
		return inc != nil && !inc.Open
	})
	st := h.service("api")
	if st.State != "primary" || st.LastIncident.Result != "disagreement" || st.LastIncident.Source != "proxy" || st.Incidents != 1 {
		t.Errorf("after a suspect the agent disputes: %s, %+v", st.State, st.LastIncident)
	}
	_, _, probes := h.agent.snapshot()
	var asked bool
	for _, p := range probes {
		asked = asked || (p.Kind == "tcp" && p.Address == "10.9.0.12" && p.Port == 8080)
	}
	if !asked {
		t.Errorf("the agent was not asked to probe api-vm:8080: %+v", probes)
	}
	if h.dns.flips != 0 {
		t.Errorf("DNS flipped %d times on a disputed suspect", h.dns.flips)
	}
}

func TestReloadValidatesBeforeSwapping(t *testing.T) {
	h := start(t, testInventory, nil)
	bad, err := parseInventory(strings.Replace(testInventory, "mode: cold", "mode: cold\n    playbook: /nonexistent/playbook.yaml", 1))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if err := h.ctrl.Reload(bad); err == nil {
		t.Fatal("Reload accepted an inventory whose playbook does not exist")
	}
	if n := len(h.status().Services); n != 2 {
		t.Errorf("after a refused reload: %d services, want the old 2", n)
	}
	more := testInventory + `  - name: db
    fqdn: db.lab.test.
    vm: api-vm
    port: 5432
    check: {tcp: {}}
    standby: sb
    mode: cold
    container: {image: busybox, limits: {cpu: 1, memory: 64MiB}}
`
	more = strings.Replace(more, "memory: 64MiB", "memory: 96MiB", 1) // web's container changes
	good, err := parseInventory(more)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	good.Monitor.APITokenFile = h.tokenFile
	if err := h.ctrl.Reload(good); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	h.eventually("db prepared after the reload", func() bool {
		st := h.status()
		return len(st.Services) == 3 && st.Services[1].Service == "db" && st.Services[1].Standby.Prepared
	})
	h.eventually("web prepared again with its new memory limit", func() bool {
		prepared, _, _ := h.agent.snapshot()
		return prepared["web"].Memory == 96<<20
	})
	h.dns.records["db.lab.test."] = []netip.Addr{netip.MustParseAddr("10.9.0.12")}
	if code, e := h.post("/v1/services/db/failover", ""); code != http.StatusAccepted {
		t.Errorf("failover of the reloaded service: %d %+v", code, e)
	}
}

func TestPrepareLeavesServicesOffTheirPrimaryAlone(t *testing.T) {
	h := start(t, testInventory, func(h *harness) {
		rec := recover.Record{Service: "api", State: recover.OnStandby, Seq: 1,
			Placement: recover.Placement{Service: "api", Where: recover.AtStandby, Host: "sb", Address: netip.MustParseAddr("10.9.1.10")}}
		if err := h.store.Save(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
	})
	h.eventually("web prepared", func() bool { return h.service("web").Standby.Prepared })
	prepared, _, _ := h.agent.snapshot()
	if _, ok := prepared["api"]; ok {
		t.Error("api was re-prepared while on standby (a cold container would be stopped)")
	}
	if st := h.service("api"); st.State != "on-standby" || st.Standby.Note == "" || st.Address != "10.9.1.10" {
		t.Errorf("api = %+v", st)
	}
}

func TestPrepareRetriesFailures(t *testing.T) {
	h := start(t, testInventory, func(h *harness) { h.agent.prepErr = errors.New("agent down") })
	h.eventually("the failure is reported", func() bool { return h.service("web").Standby.Error != "" })
	h.agent.mu.Lock()
	h.agent.prepErr = nil
	h.agent.mu.Unlock()
	h.eventually("prepared after a retry", func() bool { return h.service("web").Standby.Prepared })
}
