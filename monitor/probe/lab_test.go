package probe

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/understudy/understudy/internal/icmp"
	"github.com/understudy/understudy/internal/labtest"
	"github.com/understudy/understudy/lxd"
)

// The integration test's own primary on host-a (HACKING.md: tests may use
// 10.200.0.100–199 on host-a).
const (
	labVM      = "t-monitor-vm"
	labVMAddr  = "10.200.0.157"
	labService = "t-monitor-web"
	labVMMAC   = "00:16:3e:7e:57:9d"
)

// localAgent stands in for the standby agent: it probes from this machine
// with the same primitives the agent uses (one echo, one connect).
func localAgent(p *icmp.Pinger) Confirmer {
	return ConfirmerFunc(func(ctx context.Context, r ProbeRequest) (ProbeResult, error) {
		ctx, cancel := context.WithTimeout(ctx, time.Duration(r.TimeoutMS)*time.Millisecond)
		defer cancel()
		start := time.Now()
		var err error
		switch r.Kind {
		case "icmp":
			_, err = p.Ping(ctx, netip.MustParseAddr(r.Address))
		case "tcp":
			var c net.Conn
			if c, err = (&net.Dialer{}).DialContext(ctx, "tcp", net.JoinHostPort(r.Address, strconv.Itoa(r.Port))); err == nil {
				c.Close()
			}
		case "http":
			err = localHTTP(ctx, r)
		default:
			return ProbeResult{}, fmt.Errorf("unknown probe kind %q", r.Kind)
		}
		if err != nil {
			return ProbeResult{Error: err.Error()}, nil
		}
		return ProbeResult{OK: true, RTTMS: float64(time.Since(start).Microseconds()) / 1000}, nil
	})
}

// localHTTP runs the agent's http probe: one GET, no redirects, the
// expected status (any 2xx when none is given).
func localHTTP(ctx context.Context, r ProbeRequest) error {
	url := "http://" + net.JoinHostPort(r.Address, strconv.Itoa(r.Port)) + r.Path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if ok := resp.StatusCode == r.ExpectStatus || (r.ExpectStatus == 0 && resp.StatusCode/100 == 2); !ok {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// TestIntegrationDetectsStoppedVM runs the monitor against a container of
// its own on the lab's host-a, force-stops it and waits for VMDown, then
// starts it and waits for Recovered. It logs the detection time (a
// measurement, not an assertion).
func TestIntegrationDetectsStoppedVM(t *testing.T) {
	lab := labtest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	host, err := lxd.Connect(ctx, lxd.Conn{Name: lab.HostA.Name, Socket: lab.HostA.Socket})
	if err != nil {
		t.Fatalf("connect to host-a: %v", err)
	}
	t.Cleanup(host.Close)
	t.Cleanup(func() {
		if err := host.Delete(context.Background(), labVM); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	spec := lxd.InstanceSpec{Name: labVM, Image: lab.Image, Config: map[string]string{
		"environment.IPADDR":  fmt.Sprintf("%s/%d", labVMAddr, lab.HostA.PrefixLen),
		"environment.GATEWAY": lab.HostA.Gateway,
		// A fixed MAC: the host's neighbour entry for labVMAddr outlives a
		// deleted container, and a new MAC would go unanswered for ~30s.
		"volatile.eth0.hwaddr": labVMMAC,
	}}
	if _, err := host.Ensure(ctx, spec); err != nil {
		t.Fatalf("create %s: %v", labVM, err)
	}
	if err := host.Start(ctx, labVM); err != nil {
		t.Fatalf("start %s: %v", labVM, err)
	}
	waitHTTP(t, "http://"+labVMAddr+"/")

	// The API check is a plain GET /1.0 on the unix socket: the incus
	// client's GetServer writes a cache its other calls read without a lock
	// (incus v6.23.0 client/incus_server.go), and lxd's calls keep running
	// after their context ends, so ServerInfo from a probe loop races.
	apiHTTP := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", lab.HostA.Socket)
		},
		DisableKeepAlives: true,
	}}
	checkAPI := func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://lxd/1.0", nil)
		if err != nil {
			return err
		}
		resp, err := apiHTTP.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /1.0: status %d", resp.StatusCode)
		}
		return nil
	}

	pinger, err := icmp.New()
	if err != nil {
		t.Fatalf("open icmp socket: %v", err)
	}
	t.Cleanup(func() { pinger.Close() })
	apis := map[string]Hypervisor{lab.HostA.Name: HypervisorFuncs{
		StateFunc: func(ctx context.Context, name string) (bool, error) {
			st, err := host.State(ctx, name)
			return st.Running, err
		},
		CheckAPIFunc: checkAPI,
	}}
	plan := Plan{
		Timing:      Timing{Interval: 100 * time.Millisecond, Timeout: 80 * time.Millisecond, Fails: 3, Passes: 2},
		Hypervisors: []HypervisorSpec{{Name: lab.HostA.Name, Address: lab.HostA.Gateway}},
		VMs:         []VMSpec{{Name: labVM, Hypervisor: lab.HostA.Name, Instance: labVM, Address: labVMAddr}},
		Services: []ServiceSpec{{Name: labService, VM: labVM, Port: 80, Check: KindHTTP, Path: "/",
			ExpectStatus: 200, Confirm: ConfirmAgent}},
	}
	reg := prometheus.NewRegistry()
	metrics, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	events := make(ChanSink, 16)
	m, err := New(plan, Options{
		Probers: Probers(Deps{Pinger: pinger, Hypervisors: apis}), Sink: events,
		Confirmer: localAgent(pinger), Metrics: metrics, Logger: quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); m.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })

	// Every target probed healthy a few times, and nothing reported.
	waitUntil(t, func() bool { return probeCount(t, reg) >= 4*len(m.Targets()) })
	select {
	case ev := <-events:
		t.Fatalf("event while the VM is healthy: %+v", ev)
	default:
	}

	stopCalled := time.Now()
	if err := host.Stop(ctx, labVM, 0); err != nil {
		t.Fatalf("force-stop %s: %v", labVM, err)
	}
	stopReturned := time.Since(stopCalled)
	ev := nextEvent(t, events)
	detect := time.Since(stopCalled)
	if ev.Kind != VMDown || !slices.Equal(ev.VMs, []string{labVM}) || !slices.Equal(ev.Services, []string{labService}) {
		t.Fatalf("after the force-stop: event %+v, want VMDown of %s covering %s", ev, labVM, labService)
	}
	t.Logf("VMDown %v after the force-stop was called (it returned after %v; interval 100ms, fails 3); reason: %s",
		detect.Round(time.Millisecond), stopReturned.Round(time.Millisecond), ev.Reason)

	if err := host.Start(ctx, labVM); err != nil {
		t.Fatalf("restart %s: %v", labVM, err)
	}
	if ev := nextEvent(t, events); ev.Kind != Recovered || ev.Of != VMDown {
		t.Fatalf("after the restart: event %+v, want Recovered of VMDown", ev)
	}
}

func nextEvent(t *testing.T, events ChanSink) Event {
	t.Helper()
	select {
	case ev := <-events:
		return ev
	case <-time.After(30 * time.Second):
		t.Fatal("no event within 30s")
		return Event{}
	}
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	c := &http.Client{Timeout: 500 * time.Millisecond}
	waitUntil(t, func() bool {
		resp, err := c.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// probeCount is the number of probes observed so far, of every kind.
func probeCount(t *testing.T, reg *prometheus.Registry) int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		if mf.GetName() != "understudy_probe_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			n += int(m.GetHistogram().GetSampleCount())
		}
	}
	return n
}
