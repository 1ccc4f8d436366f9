package monitor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/pki"
	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/standby"
	agentconfig "github.com/understudy/understudy/standby/config"
)

// noRuntime is the Incus/LXD of an agent on a spare: the agent manages no
// container there, so every call is refused.
type noRuntime struct{}

var errNoRuntime = errors.New("an agent on a spare manages no containers")

func (noRuntime) Ensure(context.Context, standby.InstanceSpec) (bool, error) {
	return false, errNoRuntime
}
func (noRuntime) Start(context.Context, string) error               { return errNoRuntime }
func (noRuntime) Stop(context.Context, string, time.Duration) error { return errNoRuntime }
func (noRuntime) State(context.Context, string) (standby.InstanceState, error) {
	return standby.InstanceState{}, errNoRuntime
}
func (noRuntime) Statuses(context.Context) (map[string]standby.InstanceState, error) {
	return nil, errNoRuntime
}
func (noRuntime) WaitIPv4(context.Context, string, string) (netip.Addr, error) {
	return netip.Addr{}, errNoRuntime
}
func (noRuntime) Delete(context.Context, string) error { return errNoRuntime }

// spareAgentConfig is the minimal agent.yaml of a spare (standby/README.md,
// "An agent on a spare VM"): no services, no network pool, no CRIU probe.
const spareAgentConfig = `name: spare-1
listen: 127.0.0.1:0
tls: {cert: %[1]s/agent.crt, key: %[1]s/agent.key, client-ca: %[1]s/ca.crt}
incus: {socket: /var/lib/incus/unix.socket}
state-dir: %[2]s
criu: {disable: true}
`

// TestSpareAgentCapacity: a real agent with the minimal spare config
// answers /v1/capacity over mutual TLS, and the dry run shows the steal
// and load it measured once it sampled steal (every 5 s).
func TestSpareAgentCapacity(t *testing.T) {
	dir := t.TempDir()
	for _, step := range []func() error{
		func() error { return pki.Init(dir) },
		func() error { return pki.Issue(dir, dir, "agent", true, []string{"127.0.0.1"}, time.Hour) },
		func() error { return pki.Issue(dir, dir, "monitor", false, nil, time.Hour) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := agentconfig.Parse("agent.yaml", fmt.Appendf(nil, spareAgentConfig, dir, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrc, done := make(chan net.Addr, 1), make(chan error, 1)
	go func() {
		done <- standby.Run(ctx, cfg, standby.RunOptions{
			Connect: func(context.Context, agentconfig.Incus) (standby.Runtime, error) { return noRuntime{}, nil },
			Serving: func(a net.Addr) { addrc <- a },
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	})
	var agentURL string
	select {
	case a := <-addrc:
		agentURL = "https://" + a.String()
	case err := <-done:
		t.Fatalf("agent: %v", err)
	}

	f := func(n string) string { return filepath.Join(dir, n) }
	text := strings.Replace(testInventory, "  flap: {max: 100, window: 1h}\n",
		"  flap: {max: 100, window: 1h}\n  agent-tls: {ca: "+f("ca.crt")+", cert: "+f("monitor.crt")+", key: "+f("monitor.key")+"}\n", 1) +
		"spares:\n  - {name: spare-1, zone: az1, agent: " + agentURL + ", incus: {socket: /nonexistent/s1.socket}}\n"
	h := start(t, text, func(h *harness) { h.tune = func(o *Options) { o.MoveInterval = 100 * time.Millisecond } })

	var last api.Candidate
	h.eventually("spare-1 measured", func() bool {
		code, dry := h.migrate(`{"dry_run":true}`)
		if code != 200 || len(dry.Candidates) != 1 {
			t.Fatalf("dry run: %d %+v", code, dry)
		}
		last = dry.Candidates[0]
		if last.Unmeasured != "" && !strings.Contains(last.Unmeasured, "not sampled") {
			t.Fatalf("spare-1 unknown: %s", last.Unmeasured)
		}
		return last.Unmeasured == ""
	})
	if last.Steal < 0 || last.Steal > 100 || last.Load1 < 0 || !strings.Contains(last.Reasons[0], "load ") {
		t.Errorf("measured spare-1 = %+v", last)
	}
	t.Logf("spare-1 agent: steal %.1f%%, load %.2f per CPU", last.Steal, last.Load1)
}
