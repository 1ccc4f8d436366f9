package drill_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/understudy/understudy/dnsupdate"
	"github.com/understudy/understudy/drill"
	"github.com/understudy/understudy/drill/launch"
	"github.com/understudy/understudy/drill/report"
	"github.com/understudy/understudy/internal/labtest"
	"github.com/understudy/understudy/standby"
)

// labBaseHost: TestIntegrationHostDrill's primaries on host-b, 10.200.3.100-.103.
const labBaseHost = 100

// TestIntegrationHostDrill drills the loss of a whole hypervisor: four
// test-owned primaries on host-b (two warm, two cold) lose their bridge at
// once, under load through DNS and the proxy. Every service must recover,
// each reached through DNS on the standby (its first DNS success from the
// new backend), with 0 failed requests through the proxy (as
// TestIntegrationDrill's rule for one service), the bridge up again and
// every service restored to its primary.
func TestIntegrationHostDrill(t *testing.T) {
	skipBesideFleet(t)
	w := newLabWorldOn(t, "host-b", labBaseHost,
		[]string{"host-w1", "host-c1", "host-w2", "host-c2"}, []string{"warm", "cold", "warm", "cold"}, "")
	for _, s := range w.services {
		w.ready(t, s)
	}
	hc, err := launch.HostConfigFor(w.inventory(), "host-b", nil, drill.HostDown, drill.ViaBoth, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range hc.Services {
		c := &hc.Services[i]
		c.ProxyAddr, c.Timeout, c.Restore = w.proxy, 45*time.Second, true
	}
	res := w.hostDrill(t, hc)
	var rep bytes.Buffer
	if err := report.WriteHostReport(&rep, res); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", rep.String())
	if res.Verdict != drill.Recovered || res.Recovered != len(w.services) || res.AllServedMS == nil {
		t.Fatalf("verdict %s, %d of %d recovered, all served %v; notes %v",
			res.Verdict, res.Recovered, res.Total, drill.Deref(res.AllServedMS), res.Notes)
	}
	for i, s := range w.services {
		r := res.Services[i]
		if r.Service != s.Name || r.Host != "host-b" {
			t.Fatalf("result %d is %s on %q, want %s on host-b", i, r.Service, r.Host, s.Name)
		}
		t.Run(s.Name, func(t *testing.T) { checkLabResult(t, &r, s, w.proxyHold) })
	}
	checkFaultGone(t, w, drill.HostDown, w.services[0])
	w.checkAllHome(t)
	if out := os.Getenv("DRILL_OUT"); out != "" {
		keepHost(t, out, res, rep.Bytes())
	}
}

// hostDrill runs the host drill hc against the world's hypervisor, asking
// again while the preflight refuses (as `understudy drill --wait`).
func (w *labWorld) hostDrill(t *testing.T, hc drill.HostConfig) *drill.HostResult {
	dns, err := dnsupdate.New(dnsupdate.Config{Server: w.lab.DNSServer, Zone: w.lab.Zone, Timeout: time.Second, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg, err := standby.ClientTLSConfig(filepath.Join(w.certs, "ca.crt"), filepath.Join(w.certs, "monitor.crt"), filepath.Join(w.certs, "monitor.key"))
	if err != nil {
		t.Fatal(err)
	}
	agent := standby.NewClient(w.agentURL, tlsCfg)
	defer agent.Close()
	s := w.services[0]
	fault, err := drill.NewFault(drill.HostDown, drill.Target{Instance: s.VM, Address: netip.MustParseAddr(s.Address)}, w.hv, drill.ExecRunner{})
	if err != nil {
		t.Fatal(err)
	}
	deps := drill.Deps{Monitor: w.httpMonitor(), Agent: labAgent{agent}, DNS: labResolver{dns}, Fault: fault, Hypervisor: w.hv, Log: w.log}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	deadline := time.Now().Add(time.Minute)
	res, err := drill.RunHost(ctx, hc, deps)
	for errors.Is(err, drill.ErrPreflight) && time.Now().Before(deadline) {
		t.Logf("preflight refused; asking again: %v", err)
		time.Sleep(time.Second)
		res, err = drill.RunHost(ctx, hc, deps)
	}
	if err != nil {
		if res != nil {
			var b bytes.Buffer
			_ = report.WriteHostReport(&b, res)
			t.Logf("\n%s", b.String())
		}
		t.Fatalf("host drill of %s: %v", hc.Hypervisor, err)
	}
	return res
}

// keepHost writes a host drill's report, JSON and SVG into dir.
func keepHost(t *testing.T, dir string, res *drill.HostResult, text []byte) {
	base := filepath.Join(dir, "host-"+res.Hypervisor)
	if err := os.WriteFile(base+".txt", text, 0o644); err != nil {
		t.Error(err)
	}
	if err := report.WriteHostOutputs(&bytes.Buffer{}, res, base+".json", base+".svg"); err != nil {
		t.Error(err)
	}
}

// skipBesideFleet refuses a host-b drill while the fleet's monitor
// (make demo-fleet) runs: it would fail host-b's fleet over too.
func skipBesideFleet(t *testing.T) {
	t.Helper()
	if c, err := net.DialTimeout("tcp", "127.0.0.1:9190", time.Second); err == nil {
		c.Close()
		labtest.Skip(t, "host-down of host-b: the fleet's monitor runs on 127.0.0.1:9190 and would fail its services over; stop it to run this (bash examples/demo-fleet.sh stop; make demo-stop)")
	}
}
