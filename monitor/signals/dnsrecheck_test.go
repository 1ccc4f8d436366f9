package signals

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/understudy/understudy/dnsupdate"
	"github.com/understudy/understudy/dnsupdate/dnstest"
	"github.com/understudy/understudy/monitor/steps"
	"github.com/understudy/understudy/recover"
)

// A service whose dns.verify server lagged behind its failover stays
// unverified while the server answers the old address, and is caught up
// once it answers the new one; its next DNS change is unverified again.
func TestDNSRecheckClearsOnceTheServerCatchesUp(t *testing.T) {
	const zone, name = "lab.test.", "web.lab.test."
	srv := dnstest.New(t, zone, nil)
	srv.Set(zone, zone+" 60 IN SOA ns.lab.test. hostmaster.lab.test. 1 60 30 600 10")
	srv.Set(name, name+" 60 IN A 10.0.0.1")
	client, err := dnsupdate.New(dnsupdate.Config{Server: srv.Addr, Zone: zone, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	d := NewRechecker(&steps.DNSAdapter{Client: client, Verify: []string{srv.Addr}}, nil)
	flipped := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	rec := recover.Record{Service: "web", State: recover.OnStandby,
		Placement: recover.Placement{Service: "web", Where: recover.AtStandby, Address: netip.MustParseAddr("10.0.1.1")},
		Incident:  &recover.Incident{ID: "web-1", Phases: []recover.PhaseTime{{Phase: recover.PhaseDetected}, {Phase: recover.PhaseDNSFlipped, At: flipped}}}}
	fqdn := func(s string) string { return map[string]string{"web": name}[s] }
	recs := []recover.Record{rec}

	d.Check(context.Background(), recs, fqdn)
	if d.CaughtUp(rec) {
		t.Fatal("caught up while the server answers the old address")
	}
	srv.Set(name, name+" 60 IN A 10.0.1.1")
	d.Check(context.Background(), recs, fqdn)
	if !d.CaughtUp(rec) {
		t.Fatal("not caught up once the server answers the new address")
	}
	next := rec
	next.Incident = &recover.Incident{ID: "web-2", Phases: []recover.PhaseTime{{Phase: recover.PhaseDNSFlipped, At: flipped.Add(time.Hour)}}}
	if d.CaughtUp(next) {
		t.Error("the next DNS change counts as caught up before any recheck")
	}
	var none *Rechecker
	if none.CaughtUp(rec) {
		t.Error("a nil rechecker reports caught up")
	}
}
