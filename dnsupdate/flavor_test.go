package dnsupdate

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/dnsupdate/dnstest"
	"github.com/understudy/understudy/internal/clock/clocktest"
)

// TestReplaceErrorsByServer checks that the ways Knot DNS and PowerDNS
// answer a rejected update, which differ from BIND's, map to the same
// sentinel errors as BIND's answers do (TestReplaceErrors), except where the
// server says too little: PowerDNS answers a wrong key and a clock outside
// the fudge alike, so both are ErrBadKey and the message names both causes.
func TestReplaceErrorsByServer(t *testing.T) {
	goodKey, goodSecret := testKey(t, "test-key", "")
	otherSecretKey, _ := testKey(t, "test-key", "")
	tests := []struct {
		flavor  dnstest.Flavor
		name    string
		key     *Key
		zone    string
		skew    time.Duration
		wantErr error
		inMsg   string
		retried bool // every attempt is made
	}{
		{dnstest.Knot, "wrong secret", otherSecretKey, testZone, 0, ErrBadKey, "BADSIG", true},
		{dnstest.Knot, "unsigned", nil, testZone, 0, ErrRefused, "unsigned update (NOTAUTH", false},
		{dnstest.Knot, "zone not served", goodKey, "other.test.", 0, ErrNotAuth, "not authoritative", true},
		{dnstest.Knot, "clock skew", goodKey, testZone, -time.Hour, ErrBadTime, "clock", false},
		{dnstest.PowerDNS, "wrong secret", otherSecretKey, testZone, 0, ErrBadKey, "PowerDNS", true},
		{dnstest.PowerDNS, "unsigned", nil, testZone, 0, ErrRefused, "unsigned", false},
		{dnstest.PowerDNS, "zone not served", goodKey, "other.test.", 0, ErrNotAuth, "NOTAUTH", false},
		{dnstest.PowerDNS, "clock skew", goodKey, testZone, -time.Hour, ErrBadKey, "clock", true},
	}
	for _, tt := range tests {
		flavor := map[dnstest.Flavor]string{dnstest.Knot: "knot", dnstest.PowerDNS: "pdns"}[tt.flavor]
		t.Run(flavor+"/"+tt.name, func(t *testing.T) {
			t.Parallel()
			srv := dnstest.New(t, testZone, map[string]string{goodKey.Name: goodSecret})
			srv.SetFlavor(tt.flavor)
			srv.Set(testZone, testZone+" 60 IN SOA ns.example.test. hostmaster.example.test. 1 60 30 600 10")
			srv.Set("web.example.test.", "web.example.test. 60 IN A 10.0.0.1")
			c, err := New(Config{Server: srv.Addr, Zone: tt.zone, Key: tt.key, Timeout: 750 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			c.clock = clocktest.Skewed(tt.skew)
			err = c.Replace(context.Background(), "web", addrs("10.0.1.1"), time.Minute, addrs("10.0.0.1"))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.inMsg) {
				t.Errorf("error %q does not mention %q", err, tt.inMsg)
			}
			want := 1
			if tt.retried {
				want = c.retries + 1
			}
			if n := srv.Counts().Updates; n != want {
				t.Errorf("server saw %d updates, want %d", n, want)
			}
			if got := srv.Records("web.example.test."); !slices.Equal(got, []string{"web.example.test.\t60\tIN\tA\t10.0.0.1"}) {
				t.Errorf("record changed: %q", got)
			}
		})
	}
}

// A NOTAUTH that explainNotAuth turns into a refusal keeps the server's
// answer as its cause (the error matches ErrNotAuth too and quotes the
// NOTAUTH message), and says the server may be a secondary, naming the
// primary its SOA gives.
func TestExplainNotAuthWrapsAndNamesThePrimary(t *testing.T) {
	goodKey, goodSecret := testKey(t, "test-key", "")
	srv := dnstest.New(t, testZone, map[string]string{goodKey.Name: goodSecret})
	srv.SetFlavor(dnstest.Knot)
	srv.Set(testZone, testZone+" 60 IN SOA primary-ns.example.test. hostmaster.example.test. 1 60 30 600 10")
	srv.Set("web.example.test.", "web.example.test. 60 IN A 10.0.0.1")
	c, err := New(Config{Server: srv.Addr, Zone: testZone, Timeout: 750 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Replace(context.Background(), "web", addrs("10.0.1.1"), time.Minute, addrs("10.0.0.1"))
	if !errors.Is(err, ErrRefused) || !errors.Is(err, ErrNotAuth) {
		t.Fatalf("err = %v, want ErrRefused wrapping the NOTAUTH (ErrNotAuth)", err)
	}
	for _, s := range []string{"not authoritative for the zone (NOTAUTH)", "secondary", "primary-ns.example.test."} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}
