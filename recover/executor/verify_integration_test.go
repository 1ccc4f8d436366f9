package executor

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/understudy/understudy/dnsupdate"
	"github.com/understudy/understudy/internal/labtest"
	"github.com/understudy/understudy/playbooks"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/store"
)

// bindVerifier is the DNSVerifier the monitor's wiring builds: dnsupdate's
// Verify at the dns.verify servers.
type bindVerifier struct {
	c       *dnsupdate.Client
	servers []string
}

func (v bindVerifier) VerifyDNS(ctx context.Context, name string, want []netip.Addr) []DNSServerResult {
	res, _ := v.c.Verify(ctx, name, want, v.servers)
	out := make([]DNSServerResult, len(res))
	for i, r := range res {
		out[i] = DNSServerResult{Server: r.Server, Took: r.Took, Err: r.Err}
	}
	return out
}

// TestIntegrationFailoverVerifiesAtSecondary fails a service over with
// fakes for the agent and the hypervisor but the lab's real BIND: the
// dns-replace step swaps the record at the primary and waits until the
// lab's secondary (zone transfer on NOTIFY) answers the standby's address,
// recorded as dns-verified. A second dns.verify server with nothing
// answering never converges: that incident still recovers, with a warning
// naming the server and a count in understudy_recover_dns_verify_failures_total.
// Record t-recover-verify.lab.test.; no containers.
func TestIntegrationFailoverVerifiesAtSecondary(t *testing.T) {
	lab := labtest.Require(t)
	key, err := dnsupdate.LoadKeyFile(lab.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := dnsupdate.New(dnsupdate.Config{Server: lab.DNSServer, Zone: lab.Zone, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	silent, err := net.ListenPacket("udp", "127.0.0.1:0") // bound, never read: no answer
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	const fqdn = "t-recover-verify.lab.test."
	primary, standby := netip.MustParseAddr("10.200.0.139"), netip.MustParseAddr("10.200.1.139")
	for _, tt := range []struct {
		name    string
		servers []string
		stale   string // the server that never converges; "" for none
	}{
		{"secondary converges", []string{lab.DNSSecondary}, ""},
		{"one server never converges", []string{lab.DNSSecondary, silent.LocalAddr().String()}, silent.LocalAddr().String()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if err := dc.Replace(ctx, fqdn, []netip.Addr{primary}, 10*time.Second, nil); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { dc.Replace(context.Background(), fqdn, []netip.Addr{primary}, 10*time.Second, nil) })
			pb, err := playbooks.Default("warm")
			if err != nil {
				t.Fatal(err)
			}
			pb.Steps[pb.Index(playbooks.DNSReplace)].Timeout = 3 * time.Second
			saves := make(chan recover.Record, 256)
			reg := prometheus.NewRegistry()
			ectx, stop := context.WithCancel(ctx)
			agent := &fakeAgent{address: standby}
			exec := New(Config{
				Store: store.NewMemory(),
				Deps: Deps{Confirmer: agent, Activator: agent, Fencer: &fakeFencer{}, Health: &fakeHealth{},
					DNS: bindDNS{dc}, DNSVerify: bindVerifier{dc, tt.servers}, Notifier: &fakeNotifier{}, Execer: &fakeExecer{}},
				Services: map[string]recover.Config{"t-recover-verify": {Service: recover.Service{Name: "t-recover-verify", FQDN: fqdn,
					VM: "t-recover-verify", Hypervisor: "host-a", Instance: "t-recover-verify", Address: primary,
					Standby: "standby-1", Mode: "warm", Confirm: "agent", Fence: "hypervisor"}, Playbook: pb}},
				Epoch: 1, Metrics: NewMetrics(reg), HealthInterval: time.Millisecond,
				Logger: slog.New(slog.DiscardHandler), OnSave: func(r recover.Record) { saves <- r },
			})
			if err := exec.Start(ectx); err != nil {
				t.Fatal(err)
			}
			defer func() { stop(); exec.Wait() }()
			if err := exec.Trigger(ctx, "t-recover-verify", recover.FromMonitor, "test"); err != nil {
				t.Fatal(err)
			}
			r := untilSaved(t, saves, "closed", closed)
			if r.Incident.Result != recover.ResultRecovered {
				t.Fatalf("result %q (last error %q), want recovered", r.Incident.Result, r.Incident.LastError)
			}
			flipped, _ := r.Incident.Phase("dns-flipped")
			verified, ok := r.Incident.Phase("dns-verified")
			w := &world{t: t, reg: reg}
			if tt.stale == "" {
				if !ok || verified.Before(flipped) || len(r.Incident.Warnings) != 0 {
					t.Fatalf("phases %+v warnings %q, want dns-verified after dns-flipped and no warning", r.Incident.Phases, r.Incident.Warnings)
				}
				t.Logf("the secondary answered %s %v after the flip", standby, verified.Sub(flipped))
				return
			}
			if ok || len(r.Incident.Warnings) != 1 || !strings.Contains(r.Incident.Warnings[0], tt.stale) ||
				strings.Contains(r.Incident.Warnings[0], lab.DNSSecondary) {
				t.Fatalf("phases %+v warnings %q, want no dns-verified and one warning naming %s only", r.Incident.Phases, r.Incident.Warnings, tt.stale)
			}
			if n := w.metric("understudy_recover_dns_verify_failures_total", tt.stale); n != 1 {
				t.Errorf("understudy_recover_dns_verify_failures_total{server=%q} = %v, want 1", tt.stale, n)
			}
		})
	}
}
