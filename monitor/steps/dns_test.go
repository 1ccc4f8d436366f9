package steps

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/understudy/understudy/dnsupdate"
	"github.com/understudy/understudy/dnsupdate/dnstest"
	"github.com/understudy/understudy/recover"
)

func TestDNSAdapterWrapsPrecondition(t *testing.T) {
	secret := make([]byte, 32)
	rand.Read(secret)
	srv := dnstest.New(t, "lab.test.", map[string]string{"k.": base64.StdEncoding.EncodeToString(secret)})
	srv.Set("web.lab.test.", "web.lab.test. 10 IN A 10.9.0.11")
	key, err := dnsupdate.NewKey("k", "", secret)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := dnsupdate.New(dnsupdate.Config{Server: srv.Addr, Zone: "lab.test.", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	d := &DNSAdapter{Client: cl, TTL: 10 * time.Second}
	ctx := context.Background()
	primary, standbyAddr := netip.MustParseAddr("10.9.0.11"), netip.MustParseAddr("10.9.1.10")
	err = d.Replace(ctx, "web.lab.test.", []netip.Addr{primary}, []netip.Addr{standbyAddr})
	if !errors.Is(err, recover.ErrPrecondition) || !errors.Is(err, dnsupdate.ErrPrecondition) {
		t.Errorf("a stale expectation: %v, want both precondition errors", err)
	}
	if err := d.Replace(ctx, "web.lab.test.", []netip.Addr{standbyAddr}, []netip.Addr{primary}); err != nil {
		t.Fatalf("swap: %v", err)
	}
	got, err := d.Lookup(ctx, "web.lab.test.")
	if err != nil || len(got) != 1 || got[0] != standbyAddr {
		t.Errorf("lookup = %v %v", got, err)
	}
}

// TestDNSAdapterVerifies: VerifyDNS asks every dns.verify server and reports
// the one that does not answer the new address, by name.
func TestDNSAdapterVerifies(t *testing.T) {
	fresh := dnstest.New(t, "lab.test.", nil) // a secondary that has the change
	fresh.Set("web.lab.test.", "web.lab.test. 10 IN A 10.9.1.10")
	stale := dnstest.New(t, "lab.test.", nil) // one that never gets it
	stale.Set("web.lab.test.", "web.lab.test. 10 IN A 10.9.0.11")
	cl, err := dnsupdate.New(dnsupdate.Config{Server: fresh.Addr, Zone: "lab.test."})
	if err != nil {
		t.Fatal(err)
	}
	d := &DNSAdapter{Client: cl, TTL: 10 * time.Second, Verify: []string{fresh.Addr, stale.Addr}}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	res := d.VerifyDNS(ctx, "web.lab.test.", []netip.Addr{netip.MustParseAddr("10.9.1.10")})
	if len(res) != 2 || res[0].Server != fresh.Addr || res[0].Err != nil || res[1].Server != stale.Addr || res[1].Err == nil {
		t.Fatalf("results %+v, want %s verified and %s not", res, fresh.Addr, stale.Addr)
	}
	if none := (&DNSAdapter{Client: cl}).VerifyDNS(ctx, "web.lab.test.", nil); none != nil {
		t.Errorf("without dns.verify: %+v, want nothing to verify", none)
	}
}
