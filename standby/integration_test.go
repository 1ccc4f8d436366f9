package standby

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/labtest"
	"github.com/understudy/understudy/lxd"
	"github.com/understudy/understudy/standby/config"
)

// The integration tests run a real agent (Run: state, lxd connection, CRIU
// probe, mTLS server) against the lab's standby-1 daemon, with instance
// names t-standby-* and addresses from 10.200.1.80-99 (HACKING.md's table).

// countingRuntime counts Start calls on the real runtime. It embeds the
// Checkpointer, whose SetStateful passes the CRIU probe's result on to the
// real lxd client (a wrapper without it used to drop it silently).
type countingRuntime struct {
	Runtime
	Checkpointer
	mu     sync.Mutex
	starts map[string]int
}

func (c *countingRuntime) Start(ctx context.Context, name string) error {
	c.mu.Lock()
	c.starts[name]++
	c.mu.Unlock()
	return c.Runtime.Start(ctx, name)
}

func (c *countingRuntime) startCount(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.starts[name]
}

// labAgent is an agent serving over mTLS against the lab.
type labAgent struct {
	lab    *labtest.Lab
	client *Client
	rt     *countingRuntime
	lxd    *lxd.Client
	certs  certSet
	url    string
}

func startLabAgent(t testing.TB, mutate func(*config.Config)) *labAgent {
	t.Helper()
	return startAgentIn(t, labtest.Require(t), mutate)
}

// startAgentIn runs an agent against lab's standby daemon (the shared lab's
// standby-1, or criu-drill.sh's scratch daemon: criuworld_integration_test.go).
func startAgentIn(t testing.TB, lab *labtest.Lab, mutate func(*config.Config)) *labAgent {
	t.Helper()
	certs := newCertSet(t)
	cfg := config.Default()
	cfg.Name = "t-standby"
	cfg.Listen = "127.0.0.1:0"
	cfg.TLS = certs.files()
	cfg.Incus = config.Incus{Socket: lab.Standby.Socket}
	cfg.StateDir = t.TempDir()
	cfg.ActivateTimeout = config.Duration(20 * time.Second)
	cfg.Network = &config.Network{Gateway: lab.Standby.Gateway, PrefixLen: lab.Standby.PrefixLen, Pool: "10.200.1.80-10.200.1.99"}
	if mutate != nil {
		mutate(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	direct, err := lxd.Connect(t.Context(), lxd.Conn{Socket: cfg.Incus.Socket})
	if err != nil {
		t.Fatalf("connect to %s: %v", cfg.Incus.Socket, err)
	}
	la := &labAgent{lab: lab, lxd: direct, certs: certs}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, RunOptions{
			Version: "integration",
			Connect: func(ctx context.Context, ic config.Incus) (Runtime, error) {
				rt, err := ConnectLXD(ctx, ic)
				if err != nil {
					return nil, err
				}
				la.rt = &countingRuntime{Runtime: rt, Checkpointer: rt.(Checkpointer), starts: map[string]int{}}
				return la.rt, nil
			},
			Serving: func(a net.Addr) { addrc <- a },
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent shutdown: %v", err)
		}
	})
	select {
	case a := <-addrc:
		la.url = "https://" + a.String()
	case err := <-done:
		t.Fatalf("agent did not start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("agent not ready after 30s")
	}
	tlsCfg, err := ClientTLSConfig(certs.path("ca.crt"), certs.path("monitor.crt"), certs.path("monitor.key"))
	if err != nil {
		t.Fatal(err)
	}
	la.client = NewClient(la.url, tlsCfg)
	t.Cleanup(la.client.Close)
	return la
}

// service returns a spec for a lab container and removes the container at the end.
func (la *labAgent) service(t testing.TB, name string, mode Mode) ServiceSpec {
	t.Helper()
	if !strings.HasPrefix(name, "t-standby-") {
		t.Fatalf("integration instance %q must be named t-standby-*", name)
	}
	cleanup := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// The agent's fair share may still be updating the container's
		// limits (LXD then answers "busy running an update operation"):
		// try again until the operation is over, within the bound.
		err := la.lxd.Delete(ctx, name)
		for err != nil && ctx.Err() == nil {
			time.Sleep(200 * time.Millisecond)
			err = la.lxd.Delete(ctx, name)
		}
		if err != nil {
			t.Errorf("remove %s: %v", name, err)
		}
	}
	cleanup() // a leftover of an interrupted run
	t.Cleanup(cleanup)
	return ServiceSpec{Name: name, Image: la.lab.Image, Mode: mode, Port: 80, Memory: 64 << 20}
}

func (la *labAgent) running(t testing.TB, name string) bool {
	t.Helper()
	st, err := la.lxd.State(t.Context(), name)
	if err != nil {
		t.Fatalf("state of %s: %v", name, err)
	}
	return st.Running
}

// httpGet fetches http://addr/ and returns the body.
func httpGet(t testing.TB, addr string) string {
	t.Helper()
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		t.Fatalf("GET http://%s/: %v", addr, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET http://%s/: %s", addr, resp.Status)
	}
	return strings.TrimSpace(string(body))
}

func TestIntegrationWarmAndCold(t *testing.T) {
	la := startLabAgent(t, nil)
	ctx := t.Context()
	h, err := la.client.Health(ctx)
	if err != nil || !h.Ready {
		t.Fatalf("health: %+v, %v", h, err)
	}
	t.Logf("restore: %s", h.Restore)
	tests := []struct {
		name        string
		mode        Mode
		wantPrepRun bool
		wantPhase   string
	}{
		{"t-standby-warm", ModeWarm, true, "running"},
		{"t-standby-cold", ModeCold, false, "start"},
	}
	for _, tc := range tests {
		spec := la.service(t, tc.name, tc.mode)
		st, err := la.client.Prepare(ctx, 1, spec)
		if err != nil {
			t.Fatalf("prepare %s: %v", tc.name, err)
		}
		if a, err := netip.ParseAddr(st.Address); err != nil || a.Compare(netip.MustParseAddr("10.200.1.80")) < 0 || a.Compare(netip.MustParseAddr("10.200.1.99")) > 0 {
			t.Errorf("%s: address %q not from the pool", tc.name, st.Address)
		}
		if got := la.running(t, tc.name); got != tc.wantPrepRun {
			t.Errorf("%s: running after prepare = %v, want %v", tc.name, got, tc.wantPrepRun)
		}
		act, err := la.client.Activate(ctx, 1, tc.name)
		if err != nil {
			t.Fatalf("activate %s: %v", tc.name, err)
		}
		t.Logf("%s: %+v", tc.name, act)
		if act.Address != st.Address || act.Phases[0].Name != tc.wantPhase {
			t.Errorf("%s: activation %+v, want address %s and first phase %s", tc.name, act, st.Address, tc.wantPhase)
		}
		if body := httpGet(t, act.Address); body != tc.name {
			t.Errorf("%s: GET / answered %q, want the container name", tc.name, body)
		}
		if _, err := la.client.Deactivate(ctx, 1, tc.name); err != nil {
			t.Fatalf("deactivate %s: %v", tc.name, err)
		}
		if got := la.running(t, tc.name); got != tc.wantPrepRun {
			t.Errorf("%s: running after deactivate = %v, want %v", tc.name, got, tc.wantPrepRun)
		}
	}
}

func TestIntegrationRestoreFallsBackWithoutCRIU(t *testing.T) {
	la := startLabAgent(t, nil)
	h, err := la.client.Health(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if h.Restore == "available" {
		t.Skip("CRIU works here; the fallback path is covered by the unit tests")
	}
	spec := la.service(t, "t-standby-restore", ModeRestore)
	if _, err := la.client.Prepare(t.Context(), 1, spec); err != nil {
		t.Fatal(err)
	}
	act, err := la.client.Activate(t.Context(), 1, spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	if act.Restored || !strings.Contains(act.FallbackReason, "unavailable:") {
		t.Errorf("activation %+v, want a cold-start fallback with the reason", act)
	}
	if body := httpGet(t, act.Address); body != spec.Name {
		t.Errorf("GET / answered %q", body)
	}
}

// TestIntegrationRestoreWithCRIU needs a CRIU that works on this kernel and
// a daemon that runs it (standby/README.md "Restore mode on this kernel"):
// the lab's standby-1 when `lab.sh up` built it, or the scratch daemon of
// UNDERSTUDY_CRIU_SCRATCH (criuworld_integration_test.go); elsewhere it
// skips, once, with the reason.
func TestIntegrationRestoreWithCRIU(t *testing.T) {
	la := requireCRIUWorld(t)
	spec := la.service(t, "t-standby-criu", ModeRestore)
	if _, err := la.client.Prepare(t.Context(), 1, spec); err != nil {
		t.Fatal(err)
	}
	if la.running(t, spec.Name) {
		t.Error("restore-mode service runs after prepare")
	}
	act, err := la.client.Activate(t.Context(), 1, spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	if !act.Restored || act.Phases[0].Name != "restore" {
		t.Errorf("activation %+v, want a stateful restore", act)
	}
	if body := httpGet(t, act.Address); body != spec.Name {
		t.Errorf("GET / answered %q", body)
	}
}

func TestIntegrationConcurrentActivationsOneStart(t *testing.T) {
	la := startLabAgent(t, nil)
	spec := la.service(t, "t-standby-coal", ModeCold)
	if _, err := la.client.Prepare(t.Context(), 1, spec); err != nil {
		t.Fatal(err)
	}
	const n = 8
	acts := make([]Activation, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { acts[i], errs[i] = la.client.Activate(t.Context(), 1, spec.Name) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if acts[i].Address != acts[0].Address || acts[i].TookMS != acts[0].TookMS {
			t.Errorf("caller %d got another result: %+v vs %+v", i, acts[i], acts[0])
		}
	}
	if got := la.rt.startCount(spec.Name); got != 1 {
		t.Errorf("%d concurrent activations made %d Start calls, want 1", n, got)
	}
	if body := httpGet(t, acts[0].Address); body != spec.Name {
		t.Errorf("GET / answered %q", body)
	}
}

func TestIntegrationStaleEpochRefused(t *testing.T) {
	la := startLabAgent(t, nil)
	spec := la.service(t, "t-standby-epoch", ModeCold)
	if _, err := la.client.Prepare(t.Context(), 10, spec); err != nil {
		t.Fatal(err)
	}
	if _, err := la.client.Activate(t.Context(), 9, spec.Name); !errors.Is(err, ErrStaleEpoch) {
		t.Fatalf("activate with epoch 9 after 10: err = %v, want ErrStaleEpoch", err)
	}
	if la.running(t, spec.Name) {
		t.Error("stale activation started the container")
	}
	if h, err := la.client.Health(t.Context()); err != nil || h.Epoch != 10 {
		t.Errorf("health epoch = %d, %v; want 10", h.Epoch, err)
	}
}

func TestIntegrationClientWithoutCertRefused(t *testing.T) {
	la := startLabAgent(t, nil)
	pem, err := os.ReadFile(la.certs.path("ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c := NewClient(la.url, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13})
	defer c.Close()
	_, err = c.Health(t.Context())
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("request without client certificate: err = %v, want a certificate error", err)
	}
}

func TestIntegrationCapacityExhaustion(t *testing.T) {
	la := startLabAgent(t, func(c *config.Config) { c.Capacity = config.Capacity{Containers: 2, Memory: 1 << 30} })
	ctx := t.Context()
	warm := la.service(t, "t-standby-cap-a", ModeWarm)
	cold1 := la.service(t, "t-standby-cap-b", ModeCold)
	cold2 := la.service(t, "t-standby-cap-c", ModeCold)
	for _, s := range []ServiceSpec{warm, cold1, cold2} {
		if _, err := la.client.Prepare(ctx, 1, s); err != nil {
			t.Fatalf("prepare %s: %v", s.Name, err)
		}
	}
	if _, err := la.client.Activate(ctx, 1, cold1.Name); err != nil {
		t.Fatalf("activate %s (second slot): %v", cold1.Name, err)
	}
	_, err := la.client.Activate(ctx, 1, cold2.Name)
	if !errors.Is(err, ErrNoCapacity) {
		t.Fatalf("activate %s with no slot left: err = %v, want ErrNoCapacity", cold2.Name, err)
	}
	t.Logf("refusal: %v", err)
	if la.running(t, cold2.Name) || la.rt.startCount(cold2.Name) != 0 {
		t.Error("refused activation started the container")
	}
	c, err := la.client.Capacity(ctx)
	if err != nil || c.ContainersRunning != 2 || c.SlotsFree != 0 {
		t.Errorf("capacity = %+v, %v", c, err)
	}
	// Memory: a 1 GiB service does not fit next to two 64 MiB ones in 1 GiB.
	if _, err := la.client.Deactivate(ctx, 1, cold1.Name); err != nil {
		t.Fatal(err)
	}
	big := cold2
	big.Memory = 1 << 30
	if _, err := la.client.Prepare(ctx, 1, big); err != nil {
		t.Fatal(err)
	}
	if _, err := la.client.Activate(ctx, 1, big.Name); !errors.Is(err, ErrNoCapacity) || !strings.Contains(err.Error(), "memory") {
		t.Errorf("activate over memory: err = %v, want ErrNoCapacity about memory", err)
	}
	if la.running(t, big.Name) {
		t.Error("refused activation started the container")
	}
}

// benchActivate measures request → port open for one service; between
// iterations the service is deactivated (outside the timer).
func benchActivate(b *testing.B, mode Mode, name string) {
	la := startLabAgent(b, nil)
	spec := la.service(b, name, mode)
	if _, err := la.client.Prepare(b.Context(), 1, spec); err != nil {
		b.Fatal(err)
	}
	var took []float64
	phases := map[string][]float64{}
	b.ResetTimer()
	for b.Loop() {
		act, err := la.client.Activate(b.Context(), 1, name)
		b.StopTimer()
		if err != nil {
			b.Fatalf("activate: %v", err)
		}
		took = append(took, act.TookMS)
		for _, p := range act.Phases {
			phases[p.Name] = append(phases[p.Name], p.MS)
		}
		if _, err := la.client.Deactivate(b.Context(), 1, name); err != nil {
			b.Fatalf("deactivate: %v", err)
		}
		b.StartTimer()
	}
	b.ReportMetric(median(took), "median-ms")
	names := make([]string, 0, len(phases))
	for n := range phases {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		b.ReportMetric(median(phases[n]), n+"-median-ms")
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// BenchmarkActivateCold: a stopped container, from the activate request to its port open.
func BenchmarkActivateCold(b *testing.B) { benchActivate(b, ModeCold, "t-standby-bench-cold") }

// BenchmarkActivateWarm: a running container, from the activate request to its port confirmed open.
func BenchmarkActivateWarm(b *testing.B) { benchActivate(b, ModeWarm, "t-standby-bench-warm") }
