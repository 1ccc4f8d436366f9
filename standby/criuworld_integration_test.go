package standby

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	incus "github.com/lxc/incus/v6/client"

	"github.com/understudy/understudy/internal/labtest"
	"github.com/understudy/understudy/proxy"
	"github.com/understudy/understudy/standby/config"
)

// The CRIU world is where the restore tests run: the shared lab's
// standby-1 when `lab.sh up` started it with the criu of criu-build.sh on its
// PATH (labtest's Lab.CRIU: what `make test` and CI get on a machine where
// the build works), or, with UNDERSTUDY_CRIU_SCRATCH=incus|lxd (1: incus),
// the scratch daemon of examples/lab/criu-drill.sh (bench/restore.sh's, and
// the LXD one). Without either the tests that need it skip with "skipped:
// CRIU unavailable: REASON" (the reason once; lab.sh up says it too) and CI
// stays green on machines where no criu can be built.

// envCRIUScratch names the scratch daemon's kind, incus or lxd.
const envCRIUScratch = "UNDERSTUDY_CRIU_SCRATCH"

// criuWorld is a daemon whose liblxc runs a criu that works here.
type criuWorld struct {
	lab  *labtest.Lab // the daemon in the lab's shape (Standby, Image)
	criu string       // the criu the daemon runs (criu-build.sh's bin/criu)
	net  string       // the bridge's /24, e.g. 10.204.0
}

// criuDir is criu-build.sh's directory (UNDERSTUDY_CRIU_DIR).
func criuDir() string {
	if d := os.Getenv("UNDERSTUDY_CRIU_DIR"); d != "" {
		return d
	}
	return "/var/lib/understudy-criu"
}

// scratchWorld returns the CRIU world when UNDERSTUDY_CRIU_SCRATCH is set,
// and fails the test when it is set but the daemon is not there.
func scratchWorld(t testing.TB) (criuWorld, bool) {
	t.Helper()
	kind := os.Getenv(envCRIUScratch)
	nets := map[string]string{"incus": "10.204.0", "lxd": "10.203.0"} // criu-drill.sh's bridges
	switch kind {
	case "":
		return criuWorld{}, false
	case "1":
		kind = "incus"
	}
	net, ok := nets[kind]
	if !ok {
		t.Fatalf("%s=%q: want incus or lxd", envCRIUScratch, kind)
	}
	dir := criuDir()
	sock := filepath.Join(dir, kind, "unix.socket")
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("%s=%s but no scratch daemon at %s: run `LAB_HYPERVISOR=%s bash examples/lab/criu-drill.sh start`",
			envCRIUScratch, kind, sock, kind)
	}
	return criuWorld{criu: filepath.Join(dir, "bin", "criu"), net: net, lab: &labtest.Lab{
		Dir:   filepath.Join(dir, kind),
		Image: "understudy-busybox",
		Standby: labtest.Daemon{Name: "criu-" + kind, Dir: filepath.Join(dir, kind), Socket: sock,
			Gateway: net + ".1", PrefixLen: 24},
	}}, true
}

// labWorld returns the shared lab as the CRIU world, or why it is not one.
func labWorld(t testing.TB) (criuWorld, string) {
	t.Helper()
	lab := labtest.Require(t)
	path, why := lab.CRIU()
	if path == "" {
		return criuWorld{}, why
	}
	return criuWorld{lab: lab, criu: path, net: strings.TrimSuffix(lab.Standby.Gateway, ".1")}, ""
}

// agent runs an agent against the world's daemon with the criu it runs.
func (w criuWorld) agent(t testing.TB) *labAgent {
	t.Helper()
	return startAgentIn(t, w.lab, func(c *config.Config) {
		c.Incus = config.Incus{Socket: w.lab.Standby.Socket}
		c.Network = &config.Network{Gateway: w.net + ".1", PrefixLen: 24, Pool: w.net + ".170-" + w.net + ".189"}
		c.CRIU.Path = w.criu
		c.CRIU.ProbeTimeout = config.Duration(30 * time.Second) // the trial dump on a busy machine
	})
}

// criuSkipped says the reason for "CRIU unavailable" once per test binary:
// later skips point at the first.
var criuSkipped sync.Once

// skipCRIU skips t: CRIU is unavailable, for why.
func skipCRIU(t *testing.T, why string) {
	t.Helper()
	first := false
	criuSkipped.Do(func() { first = true })
	if !first {
		t.Skip("skipped: CRIU unavailable (the reason is in the first such skip)")
	}
	t.Skipf("skipped: CRIU unavailable: %s", why)
}

// requireCRIUWorld returns the CRIU world's agent, or skips (once, with the
// reason) when there is none or its CRIU probe failed.
func requireCRIUWorld(t *testing.T) *labAgent {
	t.Helper()
	w, ok := scratchWorld(t)
	if !ok {
		var why string
		if w, why = labWorld(t); why != "" {
			skipCRIU(t, why)
		}
	}
	la := w.agent(t)
	h, err := la.client.Health(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if h.Restore != "available" {
		skipCRIU(t, "the agent's probe of "+w.criu+": "+strings.TrimPrefix(h.Restore, "unavailable: "))
	}
	return la
}

// slowAnswer is one answer of the image's slow application (SLOW=1,
// examples/lab/busybox-service.sh): "COUNT WARMED".
type slowAnswer struct {
	count  int
	warmed time.Time // when its warm-up ended
}

func parseSlowAnswer(body string) (slowAnswer, error) {
	f := strings.Fields(body)
	if len(f) != 2 {
		return slowAnswer{}, fmt.Errorf("slow application answered %q, want \"COUNT WARMED\"", body)
	}
	n, err1 := strconv.Atoi(f[0])
	ms, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return slowAnswer{}, fmt.Errorf("slow application answered %q, want two integers", body)
	}
	return slowAnswer{count: n, warmed: time.UnixMilli(ms)}, nil
}

// feed is a hand-written proxy.Monitor: placements are pushed by the test.
type feed struct{ ch chan proxy.Placement }

func (f *feed) WatchPlacements(ctx context.Context, fn func(proxy.Placement)) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case p := <-f.ch:
			fn(p)
		}
	}
}

func (f *feed) ReportSuspect(context.Context, string, proxy.SuspectReport) error { return nil }

// drillProxy is a proxy in front of the slow services, fed by the test.
type drillProxy struct {
	feed  *feed
	url   string
	epoch uint64
}

func startDrillProxy(t *testing.T, names ...string) *drillProxy {
	t.Helper()
	cfg := proxy.Config{HeldMax: 2 * time.Minute}
	for _, n := range names {
		cfg.Services = append(cfg.Services, proxy.Service{Name: n, Host: n + ".drill.test", Port: 80,
			ProbeTimeout: 50 * time.Millisecond, Hold: time.Minute})
	}
	f := &feed{ch: make(chan proxy.Placement)}
	p, err := proxy.New(cfg, proxy.Options{Monitor: f})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	srv := httptest.NewServer(p)
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-done
	})
	return &drillProxy{feed: f, url: srv.URL}
}

// place sends a placement of service: an address, or held (none yet).
func (d *drillProxy) place(t *testing.T, service string, addr netip.Addr, held bool) {
	t.Helper()
	d.epoch++
	select {
	case d.feed.ch <- proxy.Placement{Service: service, Where: "standby", Address: addr, Held: held, Epoch: d.epoch, Since: time.Now()}:
	case <-time.After(10 * time.Second):
		t.Fatal("the proxy did not take the placement")
	}
}

// get sends GET / for service through the proxy and returns the body.
func (d *drillProxy) get(ctx context.Context, service string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.url+"/", nil)
	if err != nil {
		return "", err
	}
	req.Host = service + ".drill.test"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("GET through the proxy: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("read the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET through the proxy: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return strings.TrimSpace(string(body)), nil
}

// drillRun is one failover of a slow service through the proxy.
type drillRun struct {
	act     Activation
	firstMS int64 // activation request to the first answer through the proxy
	first   slowAnswer
	began   time.Time
}

// failover holds service in the proxy, sends a GET through it, activates
// the service and places it: the held GET is answered by the activated
// container. Then it deactivates the service again.
func failover(t *testing.T, la *labAgent, px *drillProxy, service string) drillRun {
	t.Helper()
	ctx := t.Context()
	px.place(t, service, netip.Addr{}, true)
	type answer struct {
		body string
		at   time.Time
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		body, err := px.get(ctx, service)
		got <- answer{body, time.Now(), err}
	}()
	began := time.Now()
	act, err := la.client.Activate(ctx, 1, service)
	if err != nil {
		t.Fatalf("activate %s: %v", service, err)
	}
	addr, err := netip.ParseAddr(act.Address)
	if err != nil {
		t.Fatalf("activation address %q: %v", act.Address, err)
	}
	px.place(t, service, addr, false)
	a := <-got
	if a.err != nil {
		t.Fatalf("%s: %v", service, a.err)
	}
	first, err := parseSlowAnswer(a.body)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := la.client.Deactivate(ctx, 1, service); err != nil {
		t.Fatalf("deactivate %s: %v", service, err)
	}
	return drillRun{act: act, firstMS: a.at.Sub(began).Milliseconds(), first: first, began: began}
}

// TestIntegrationRestoreDrill fails a restore-mode and a cold-mode slow
// service over through the proxy, five times each: the restore answers
// with the state its checkpoint took at prepare (the warm-up time of
// before the activation, the same in every run), the cold start with a new
// warm-up, and each run prints a "restore-drill" line (bench/restore.sh).
// Then the checkpoint is deleted behind the agent: the activation cold
// starts instead and says why.
func TestIntegrationRestoreDrill(t *testing.T) {
	la := requireCRIUWorld(t)
	const restoreName, coldName = "t-standby-slowr", "t-standby-slowc"
	px := startDrillProxy(t, restoreName, coldName)
	for _, name := range []string{restoreName, coldName} {
		mode := map[string]Mode{restoreName: ModeRestore, coldName: ModeCold}[name]
		spec := la.service(t, name, mode)
		spec.Config = map[string]string{"environment.SLOW": "1"}
		if _, err := la.client.Prepare(t.Context(), 1, spec); err != nil {
			t.Fatalf("prepare %s: %v", name, err)
		}
	}
	const runs = 5
	var checkpointWarmed time.Time
	for run := 1; run <= runs; run++ {
		for _, name := range []string{restoreName, coldName} {
			r := failover(t, la, px, name)
			mode := "cold"
			if name == restoreName {
				mode = "restore"
				if !r.act.Restored || r.act.FallbackReason != "" {
					t.Fatalf("run %d: activation %+v, want a restore", run, r.act)
				}
				if !r.first.warmed.Before(r.began) {
					t.Errorf("run %d: restored application warmed up at %v, after the activation began (%v)", run, r.first.warmed, r.began)
				}
				if checkpointWarmed.IsZero() {
					checkpointWarmed = r.first.warmed
				} else if !r.first.warmed.Equal(checkpointWarmed) {
					t.Errorf("run %d: restored application warmed up at %v, the checkpoint's at %v", run, r.first.warmed, checkpointWarmed)
				}
			} else if r.act.Restored || r.first.warmed.Before(r.began) {
				t.Errorf("run %d: cold start %+v warmed up at %v, before the activation began (%v)", run, r.act, r.first.warmed, r.began)
			}
			if r.first.count != 1 {
				t.Errorf("run %d %s: first answer's count %d, want 1 (the checkpoint is taken before any GET)", run, mode, r.first.count)
			}
			fmt.Printf("restore-drill\t%d\t%s\t%.0f\t%d\t%d\t%d\t%t\n", run, mode, r.act.TookMS, r.firstMS,
				r.first.count, r.first.warmed.UnixMilli(), r.act.Restored)
		}
	}
	t.Run("FailedRestoreFallsBackToColdStart", func(t *testing.T) {
		deleteCheckpoint(t, la, restoreName)
		r := failover(t, la, px, restoreName)
		if r.act.Restored || !strings.HasPrefix(r.act.FallbackReason, "cold start: restore failed: ") {
			t.Errorf("activation %+v, want a cold start naming the failed restore", r.act)
		}
		if r.first.warmed.Before(r.began) {
			t.Errorf("fallback answered with a warm-up of %v, before the activation began (%v)", r.first.warmed, r.began)
		}
		t.Logf("fallback: %s", r.act.FallbackReason)
	})
}

// deleteCheckpoint removes the agent's checkpoint snapshot of name behind
// its back, so the next restore fails.
func deleteCheckpoint(t *testing.T, la *labAgent, name string) {
	t.Helper()
	srv, err := incus.ConnectIncusUnix(la.lab.Standby.Socket, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Disconnect()
	op, err := srv.DeleteInstanceSnapshot(name, checkpointName)
	if err == nil {
		err = op.WaitContext(t.Context())
	}
	if err != nil {
		t.Fatalf("delete the checkpoint of %s: %v", name, err)
	}
}
