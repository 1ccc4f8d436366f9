package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/labtest"
	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor"
	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/executor"
)

// The relocation-under-load world (HACKING.md): primaries 10.200.0.195-196
// (t-e2e-lm-heavy, t-e2e-lm-light), spare copies 10.200.2.80-81.
const (
	lmBase      = 195
	lmSpareLo   = "10.200.2.80"
	lmSpareHi   = "10.200.2.81"
	lmThreshold = 40.0 // percent of the standby's declared CPU (agentTemplate: cpus 1)
	lmHeavy     = prefix + "lm-heavy"
	lmLight     = prefix + "lm-light"
	// lmOverload is the standby's own trigger: CPU use above 55 % for 10 s;
	// a cool-down long enough that no second move can come in the test.
	lmOverload = "overload: {trigger: load, cpu: 40, window: 10s, cool-down: 10m}"
)

// loadMoveFigures are what one relocation under load measured.
type loadMoveFigures struct {
	CrossToMoved time.Duration // the standby's CPU seen above the threshold (the run that fired) -> the migration closed
	CPUBefore    float64       // the standby's highest CPU use before the move, percent
	CPUAfter     float64       // its CPU use once below the threshold again
	Copy         time.Duration // the copy step
	Slowest      time.Duration // the slowest answer the heavy service's clients saw (a burn is 600 ms)
	Gap          time.Duration // the longest time between two answers of the heavy service's client
}

// TestIntegrationLoadMove: two services whose CGI burns CPU fail over to
// the standby; a load generator behind the proxy drives the standby's CPU
// use (its agent measures its instances' cgroups) above its load trigger's
// threshold; understudy moves the heavier service to spare-1 by itself, its
// drain webhook called before the hold and the copy and its undrain after
// the release; the proxy sees no error; the standby's measured CPU use
// falls below the threshold. Then a load that stays high on the standby
// (the light service loaded more) fires the trigger again, and the
// cool-down holds it back: the decisions say so and the light service
// stays on the standby.
func TestIntegrationLoadMove(t *testing.T) {
	f := runLoadMove(t)
	t.Logf("threshold crossed -> move ended %v; standby CPU %.0f %% before, %.0f %% after; copy %v; slowest answer %v, longest gap %v",
		f.CrossToMoved.Round(time.Millisecond), f.CPUBefore, f.CPUAfter, f.Copy, f.Slowest.Round(time.Millisecond), f.Gap.Round(time.Millisecond))
}

// BenchmarkLoadMove reports TestIntegrationLoadMove's figures (bench/run.sh
// loadmove): one relocation under load per iteration.
func BenchmarkLoadMove(b *testing.B) {
	for b.Loop() {
		f := runLoadMove(b)
		b.ReportMetric(f.CrossToMoved.Seconds(), "cross-to-moved-s")
		b.ReportMetric(f.CPUBefore, "cpu-before-%")
		b.ReportMetric(f.CPUAfter, "cpu-after-%")
		b.ReportMetric(float64(f.Copy.Milliseconds()), "copy-ms")
		b.ReportMetric(float64(f.Slowest.Milliseconds()), "slowest-answer-ms")
		b.ReportMetric(float64(f.Gap.Milliseconds()), "longest-gap-ms")
	}
}

func runLoadMove(t testing.TB) loadMoveFigures {
	w := newWorld(t, lmBase, map[string]string{"lm-heavy": "warm", "lm-light": "warm"})
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cgi, err := os.ReadFile("../examples/lab/busybox-burn.cgi")
	if err != nil {
		t.Fatalf("the burn CGI: %v", err)
	}
	hooks := &drainHooks{}
	hsrv := httptest.NewServer(hooks)
	t.Cleanup(hsrv.Close)
	w.editInventory(func(text string) string {
		text = strings.Replace(text, "capacity: {containers: 20, memory: 4GiB}}", "capacity: {containers: 20, memory: 4GiB}, "+lmOverload+"}", 1)
		return strings.Replace(text, "  - name: "+lmHeavy+"\n", "  - name: "+lmHeavy+"\n    drain: {url: "+hsrv.URL+"/drain}\n    undrain: {url: "+hsrv.URL+"/undrain}\n", 1)
	})
	w.useSpare(ctx, t, lmHeavy, lmLight)

	r := w.startController(monitor.Options{
		MoveInterval: time.Second,
		StandbyIncus: map[string]inventory.Incus{"t-e2e-standby": {Socket: w.lab.Standby.Socket}},
		SparePools: map[string]monitor.SparePool{"spare-1": {First: netip.MustParseAddr(lmSpareLo), Last: netip.MustParseAddr(lmSpareHi),
			Gateway: netip.MustParseAddr(w.lab.Spare.Gateway), PrefixLen: 24}},
	})
	for _, name := range []string{lmHeavy, lmLight} {
		r.waitPrepared(ctx, t, name)
		if code, err := r.post(ctx, "/v1/services/"+name+"/failover"); err != nil || code != http.StatusAccepted {
			t.Fatalf("failover %s: %d %v", name, code, err)
		}
	}
	for _, name := range []string{lmHeavy, lmLight} {
		st, err := r.waitService(ctx, name, func(st api.ServiceStatus) bool { return st.State == "on-standby" })
		if err != nil {
			t.Fatalf("%s never reached on-standby: %v", name, err)
		}
		// An image built before busybox-burn.cgi lacks it: the standby
		// copies get it (and the spare copy with them).
		w.installBurn(ctx, name, string(cgi))
		if _, err := getPath(ctx, st.Address, "/cgi-bin/burn?ms=1"); err != nil {
			t.Fatalf("%s serves no /cgi-bin/burn: %v", name, err)
		}
	}
	purl := w.startProxy(r.url)
	if purl == "" {
		labtest.Skip(t, "no proxy (its per-request probe needs a raw ICMP socket): the load goes through it")
	}
	for _, name := range []string{lmHeavy, lmLight} {
		pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
		for proxyGet(pctx, http.DefaultClient, purl, strings.TrimSuffix(name+"."+w.lab.Zone, ".")) != nil && pctx.Err() == nil {
			time.Sleep(stepWait) // the proxy learns the placements
		}
		pcancel()
	}

	// The load: heavy runs two burns at a time without a pause, light one
	// burn of 100 ms every 400 ms, a quarter of a CPU: alone it stays
	// clearly under the threshold (40 %), where a half (250 ms on, 250 ms
	// off) measured 45 % once the heavy one had gone. On a machine others use too, the
	// burns get what the scheduler gives them: the figures are shares of
	// the standby's one declared CPU, as its agent measures them.
	lctx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stopLoad(); wg.Wait() }()
	heavy, light := &burner{}, &burner{}
	host := func(name string) string { return strings.TrimSuffix(name+"."+w.lab.Zone, ".") }
	wg.Go(func() { heavy.run(lctx, purl, host(lmHeavy), 600, 0) })
	wg.Go(func() { heavy.run(lctx, purl, host(lmHeavy), 600, 0) })
	wg.Go(func() { light.run(lctx, purl, host(lmLight), 100, 300*time.Millisecond) })

	var f loadMoveFigures
	var crossed, logged time.Time
	var wasAbove bool
	moved, err := waitStatus(ctx, r, 3*time.Minute, func(st api.Status) bool {
		if vm, ok := vmNamed(st, "t-e2e-standby"); ok {
			if time.Since(logged) > 5*time.Second {
				logged = time.Now()
				t.Logf("standby CPU %.0f %%, trigger %s: %s", vm.CPUPercent, vm.TriggerState, vm.Why)
			}
			// crossed: the start of the run above the threshold the trigger
			// fired on (a dip below starts a new run).
			switch above := vm.CPUPercent > lmThreshold; {
			case above && !wasAbove:
				crossed = time.Now()
			case !above && closedMigration(st, lmHeavy) == nil:
				crossed = time.Time{}
			}
			wasAbove = vm.CPUPercent > lmThreshold
			if closedMigration(st, lmHeavy) == nil {
				f.CPUBefore = max(f.CPUBefore, vm.CPUPercent)
			}
		}
		return closedMigration(st, lmHeavy) != nil
	})
	if err != nil {
		vm, _ := vmNamed(moved, "t-e2e-standby")
		t.Fatalf("the heavy service never migrated by itself: %v; standby %+v", err, vm)
	}
	inc := closedMigration(moved, lmHeavy)
	if crossed.IsZero() {
		t.Fatalf("migrated, but the standby's CPU use was never seen above %.0f %%: %+v", lmThreshold, inc)
	}
	f.CrossToMoved = inc.Closed.Sub(crossed)
	for _, s := range inc.Steps {
		if s.Kind == string(recover.StepCopy) {
			f.Copy = time.Duration(s.MS * float64(time.Millisecond))
		}
	}
	logIncident(t, "migration under load", inc, f.CrossToMoved)
	t.Logf("reason: %s", inc.Reason)
	for _, want := range []string{"standby overloaded: t-e2e-standby CPU", fmt.Sprintf("(threshold %.0f %%); moved %s (", lmThreshold, lmHeavy), "to spare-1: zone az1"} {
		if !strings.Contains(inc.Reason, want) {
			t.Errorf("the incident's reason lacks %q: %s", want, inc.Reason)
		}
	}
	if inc.Result != "migrated" || inc.Source != string(recover.FromPolicy) {
		t.Errorf("incident %s from %s, want migrated from policy", inc.Result, inc.Source)
	}
	if s, _ := serviceNamed(moved, lmLight); s.State != "on-standby" {
		t.Errorf("%s is %s, want still on the standby (the lighter one stays)", lmLight, s.State)
	}
	calls := hooks.snapshot()
	if len(calls) != 2 || calls[0].event != "drain" || calls[1].event != "undrain" {
		t.Errorf("drain hooks called %+v, want drain then undrain", calls)
	} else if calls[0].hold != recover.StatusPending || calls[0].copy != recover.StatusPending || calls[1].release != recover.StatusDone {
		t.Errorf("drain with hold %s and copy %s, undrain with release %s; want pending, pending, done", calls[0].hold, calls[0].copy, calls[1].release)
	}

	// The standby's measured load falls below the threshold.
	below, err := waitStatus(ctx, r, time.Minute, func(st api.Status) bool {
		vm, ok := vmNamed(st, "t-e2e-standby")
		return ok && vm.SampledAt.After(inc.Closed.Add(6*time.Second)) && vm.CPUPercent < lmThreshold
	})
	vm, _ := vmNamed(below, "t-e2e-standby")
	if err != nil {
		t.Fatalf("the standby's CPU use never fell below %.0f %% after the move: %+v", lmThreshold, vm)
	}
	f.CPUAfter = vm.CPUPercent

	// The cool-down: light loaded by two more burns at a time keeps the
	// standby above the threshold; the trigger fires and is held back.
	wg.Go(func() { light.run(lctx, purl, host(lmLight), 1000, 0) })
	wg.Go(func() { light.run(lctx, purl, host(lmLight), 1000, 0) })
	held, err := waitStatus(ctx, r, 90*time.Second, func(st api.Status) bool {
		vm, _ := vmNamed(st, "t-e2e-standby")
		for _, d := range vm.Decisions {
			if strings.Contains(d, "held back by the cool-down") {
				return true
			}
		}
		return false
	})
	vm, _ = vmNamed(held, "t-e2e-standby")
	if err != nil {
		t.Fatalf("the cool-down never held the trigger back: %v; standby %+v", err, vm)
	}
	t.Logf("standby trigger %s %s: %s; decisions %q", vm.Trigger, vm.TriggerState, vm.Why, vm.Decisions)
	if vm.TriggerState != "cool-down" || vm.Overloaded {
		t.Errorf("standby trigger state %q overloaded %v, want cool-down, not overloaded", vm.TriggerState, vm.Overloaded)
	}
	if s, _ := serviceNamed(held, lmLight); s.State != "on-standby" || (s.LastIncident != nil && s.LastIncident.Open) {
		t.Errorf("%s moved during the cool-down: %s %+v", lmLight, s.State, s.LastIncident)
	}
	stopLoad()
	wg.Wait()
	for name, b := range map[string]*burner{lmHeavy: heavy, lmLight: light} {
		t.Logf("%s through the proxy: %s", name, b.report())
		if n := b.failed(); n != 0 {
			t.Errorf("%s: %d requests through the proxy failed", name, n)
		}
	}
	f.Slowest, f.Gap = heavy.slowestAndGap()
	return f
}

// installBurn writes the burn CGI into the standby container name, unless
// the image has it already.
func (w *world) installBurn(ctx context.Context, name, cgi string) {
	w.t.Helper()
	script := `[ -x /var/www/cgi-bin/burn ] || { mkdir -p /var/www/cgi-bin && printf '%s' "$1" >/var/www/cgi-bin/burn && chmod 0755 /var/www/cgi-bin/burn; }`
	res, err := w.standby.Exec(ctx, name, []string{"/bin/sh", "-c", script, "sh", cgi}, nil)
	if err != nil || res.ExitCode != 0 {
		w.t.Fatalf("install the burn CGI in %s: %+v %v", name, res, err)
	}
}

// editInventory rewrites the world's inventory file with edit.
func (w *world) editInventory(edit func(string) string) {
	w.t.Helper()
	b, err := os.ReadFile(w.invPath)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(w.invPath, []byte(edit(string(b))), 0o600); err != nil {
		w.t.Fatal(err)
	}
}

// waitStatus polls /v1/status every 500 ms until cond holds or within ends,
// and returns the last status.
func waitStatus(ctx context.Context, r *running, within time.Duration, cond func(api.Status) bool) (api.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var last api.Status
	for {
		st, err := r.status(ctx)
		if err == nil {
			last = st
			if cond(st) {
				return st, nil
			}
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func vmNamed(st api.Status, name string) (api.VMStatus, bool) {
	for _, v := range st.VMs {
		if v.Name == name {
			return v, true
		}
	}
	return api.VMStatus{}, false
}

func serviceNamed(st api.Status, name string) (api.ServiceStatus, bool) {
	for _, s := range st.Services {
		if s.Service == name {
			return s, true
		}
	}
	return api.ServiceStatus{}, false
}

// closedMigration is the service's last incident when it is a closed
// migration (its placement on a spare), else nil.
func closedMigration(st api.Status, name string) *api.IncidentStatus {
	s, ok := serviceNamed(st, name)
	if !ok || s.State != "on-spare" || s.LastIncident == nil || s.LastIncident.Open {
		return nil
	}
	return s.LastIncident
}

// burner GETs /cgi-bin/burn?ms=MS through the proxy, pause between
// requests, until ctx ends (at most maxBurns requests: a bounded loop),
// counting failures, the slowest answer and the longest time between two
// answers. Several runs may share one burner.
type burner struct {
	mu      sync.Mutex
	ok      int
	fail    int
	slowest time.Duration
	gap     time.Duration
	lastOK  time.Time
	errs    []string
}

// maxBurns bounds one burner loop.
const maxBurns = 5000

func (b *burner) run(ctx context.Context, url, host string, ms int, pause time.Duration) {
	cl := &http.Client{Timeout: 30 * time.Second}
	for i := 0; i < maxBurns && ctx.Err() == nil; i++ {
		start := time.Now()
		err := burnOnce(ctx, cl, url, host, ms)
		took := time.Since(start)
		b.mu.Lock()
		switch {
		case ctx.Err() != nil:
		case err != nil:
			b.fail++
			if len(b.errs) < 5 {
				b.errs = append(b.errs, err.Error())
			}
		default:
			b.ok++
			b.slowest = max(b.slowest, took)
			now := time.Now()
			if !b.lastOK.IsZero() {
				b.gap = max(b.gap, now.Sub(b.lastOK))
			}
			b.lastOK = now
		}
		b.mu.Unlock()
		if pause > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(pause):
			}
		}
	}
}

func burnOnce(ctx context.Context, cl *http.Client, url, host string, ms int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/cgi-bin/burn?ms=%d", url, ms), nil)
	if err != nil {
		return err
	}
	req.Host = host
	resp, err := cl.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}

func (b *burner) failed() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.fail
}

func (b *burner) slowestAndGap() (time.Duration, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.slowest, b.gap
}

func (b *burner) report() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return fmt.Sprintf("%d ok, %d failed, slowest answer %v, longest time between two answers %v; errors %s",
		b.ok, b.fail, b.slowest, b.gap, strings.Join(b.errs, "; "))
}

// drainCall is what a drain webhook saw: its event and the status of the
// incident's hold, copy and release steps at that moment.
type drainCall struct {
	event               string
	hold, copy, release recover.StepStatus
}

// drainHooks records the drain and undrain webhooks it receives.
type drainHooks struct {
	mu    sync.Mutex
	calls []drainCall
}

func (h *drainHooks) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var n executor.Notification
	if err := json.NewDecoder(req.Body).Decode(&n); err != nil || n.Incident == nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	c := drainCall{event: n.Event}
	for _, s := range n.Incident.Steps {
		switch s.Kind {
		case recover.StepHold:
			c.hold = s.Status
		case recover.StepCopy:
			c.copy = s.Status
		case recover.StepRelease:
			c.release = s.Status
		}
	}
	h.mu.Lock()
	h.calls = append(h.calls, c)
	h.mu.Unlock()
}

func (h *drainHooks) snapshot() []drainCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]drainCall(nil), h.calls...)
}
