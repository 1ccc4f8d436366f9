package dnsupdate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/understudy/understudy/internal/clock/clocktest"
	"github.com/understudy/understudy/internal/labtest"
)

// labFixture returns a client for the lab's BIND and a fresh name in its zone
// ("t-dns-<what>-<random>") whose records are removed when the test ends.
func labFixture(t testing.TB, what string) (*labtest.Lab, *Client, string) {
	t.Helper()
	lab := labtest.Require(t)
	c, name := serverFixture(t, lab, lab.DNSServerNamed(t, labtest.DNSBind), what)
	return lab, c, name
}

// forEachServer runs f as one subtest per lab DNS server (BIND, Knot,
// PowerDNS), each failing or skipping on its own when its server is down.
func forEachServer(t *testing.T, f func(t *testing.T, lab *labtest.Lab, srv labtest.DNSServer)) {
	lab := labtest.Require(t)
	for _, srv := range lab.DNSServers() {
		t.Run(srv.Name, func(t *testing.T) {
			labtest.RequireDNS(t, srv)
			f(t, lab, srv)
		})
	}
}

// serverFixture returns a client for srv with its key and a fresh name in
// the zone ("t-dns-<what>-<random>") whose records are removed when the test
// ends.
func serverFixture(t testing.TB, lab *labtest.Lab, srv labtest.DNSServer, what string) (*Client, string) {
	t.Helper()
	key, err := LoadKeyFile(srv.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Server: srv.Addr, Zone: lab.Zone, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	suffix := make([]byte, 3)
	rand.Read(suffix)
	name := "t-dns-" + what + "-" + hex.EncodeToString(suffix) + "." + lab.Zone
	t.Cleanup(func() { removeName(t, c, name) })
	return c, name
}

// removeName deletes every record of name with a signed update.
func removeName(t testing.TB, c *Client, name string) {
	m := new(dns.Msg)
	m.SetUpdate(c.zone)
	m.RemoveName([]dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: name}}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, _, err := c.exchange(ctx, "clean up", c.server, true, func() *dns.Msg { return m.Copy() }); err != nil {
		t.Errorf("clean up %s: %v", name, err)
	}
}

// plainQuery asks server for the addresses of name with a bare unsigned
// miekg/dns query, independent of the code under test.
func plainQuery(t testing.TB, server, name string) []netip.Addr {
	t.Helper()
	var out []netip.Addr
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		m := new(dns.Msg)
		m.SetQuestion(name, qt)
		r, _, err := new(dns.Client).Exchange(m, server)
		if err != nil {
			t.Fatalf("plain query %s: %v", name, err)
		}
		for _, rr := range r.Answer {
			switch rr := rr.(type) {
			case *dns.A:
				out = append(out, netip.MustParseAddr(rr.A.String()))
			case *dns.AAAA:
				out = append(out, netip.MustParseAddr(rr.AAAA.String()))
			}
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

func TestIntegrationReplace(t *testing.T) { forEachServer(t, testReplace) }

func testReplace(t *testing.T, lab *labtest.Lab, srv labtest.DNSServer) {
	c, name := serverFixture(t, lab, srv, "replace")
	ctx := context.Background()
	for _, want := range [][]netip.Addr{addrs("10.200.0.101"), addrs("10.200.1.101", "fd00::101"), addrs("10.200.2.101")} {
		if err := c.Replace(ctx, name, want, 7*time.Second, nil); err != nil {
			t.Fatalf("Replace(%v): %v", want, err)
		}
		if got := plainQuery(t, srv.Addr, name); !slices.Equal(got, want) {
			t.Fatalf("%s answers %v, want %v", srv.Product, got, want)
		}
	}
	ans, err := c.Lookup(ctx, name)
	if err != nil || ans.TTL != 7*time.Second {
		t.Errorf("Lookup = %+v, %v; want TTL 7s", ans, err)
	}
}

func TestIntegrationCompareAndSwap(t *testing.T) { forEachServer(t, testCompareAndSwap) }

func testCompareAndSwap(t *testing.T, lab *labtest.Lab, srv labtest.DNSServer) {
	c, name := serverFixture(t, lab, srv, "cas")
	ctx := context.Background()
	primary, standby, spare := addrs("10.200.0.102"), addrs("10.200.1.102"), addrs("10.200.2.102")
	if err := c.Replace(ctx, name, primary, 10*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Replace(ctx, name, standby, 10*time.Second, primary); err != nil {
		t.Fatalf("compare-and-swap from the current value: %v", err)
	}
	// A stale controller still believes the primary is current.
	err := c.Replace(ctx, name, spare, 10*time.Second, primary)
	if !errors.Is(err, ErrPrecondition) {
		t.Fatalf("stale compare-and-swap: err = %v, want ErrPrecondition", err)
	}
	if got := plainQuery(t, srv.Addr, name); !slices.Equal(got, standby) {
		t.Fatalf("after the refused swap %s answers %v, want it unchanged at %v", srv.Product, got, standby)
	}
	// expect covers A only, but the name also has an AAAA: refused.
	both := addrs("10.200.1.102", "fd00::102")
	if err := c.Replace(ctx, name, both, 10*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Replace(ctx, name, spare, 10*time.Second, standby); !errors.Is(err, ErrPrecondition) {
		t.Fatalf("expect without the AAAA: err = %v, want ErrPrecondition", err)
	}
	if err := c.Replace(ctx, name, spare, 10*time.Second, both); err != nil {
		t.Fatalf("expect with both families: %v", err)
	}
	if got := plainQuery(t, srv.Addr, name); !slices.Equal(got, spare) {
		t.Fatalf("%s answers %v, want %v", srv.Product, got, spare)
	}
}

// TestIntegrationRejected sends updates each server must refuse and checks
// each error and that the record did not change. The sentinel errors are the
// same for every server except where the server does not say: PowerDNS
// answers a clock outside the fudge as it answers a wrong key (an unsigned
// REFUSED, never BADTIME), so that is ErrBadKey whose message names the
// clock too.
func TestIntegrationRejected(t *testing.T) { forEachServer(t, testRejected) }

func testRejected(t *testing.T, lab *labtest.Lab, srv labtest.DNSServer) {
	c, name := serverFixture(t, lab, srv, "reject")
	before := addrs("10.200.0.103")
	if err := c.Replace(context.Background(), name, before, 10*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	wrongSecret, _ := testKey(t, c.key.Name, c.key.Algorithm)
	unknownName, _ := testKey(t, "t-dns-unknown-key", "")
	tests := []struct {
		name    string
		key     *Key
		skew    time.Duration
		wantErr error
		inMsg   string
		servers map[string]error // a server that answers otherwise, and the error it gets
	}{
		{"wrong secret", wrongSecret, 0, ErrBadKey, "key", nil},
		{"unknown key", unknownName, 0, ErrBadKey, "key", nil},
		{"unsigned", nil, 0, ErrRefused, "unsigned", nil},
		{"clock skew", c.key, -time.Hour, ErrBadTime, "clock", map[string]error{labtest.DNSPDNS: ErrBadKey}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A reply that cannot be verified is waited out on every
			// attempt: a short timeout keeps those cases short.
			bad, err := New(Config{Server: srv.Addr, Zone: lab.Zone, Key: tt.key, Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			bad.clock = clocktest.Skewed(tt.skew)
			want := tt.wantErr
			if e, ok := tt.servers[srv.Name]; ok {
				want = e
			}
			err = bad.Replace(context.Background(), name, addrs("10.200.1.103"), 10*time.Second, before)
			if !errors.Is(err, want) {
				t.Fatalf("err = %v, want %v", err, want)
			}
			if !strings.Contains(err.Error(), tt.inMsg) {
				t.Errorf("error %q does not mention %q", err, tt.inMsg)
			}
			t.Logf("error: %v", err)
			if got := plainQuery(t, srv.Addr, name); !slices.Equal(got, before) {
				t.Fatalf("%s answers %v, want it unchanged at %v", srv.Product, got, before)
			}
		})
	}
}

// TestIntegrationNotAuth updates a zone the server does not serve.
func TestIntegrationNotAuth(t *testing.T) { forEachServer(t, testNotAuth) }

func testNotAuth(t *testing.T, lab *labtest.Lab, srv labtest.DNSServer) {
	c, _ := serverFixture(t, lab, srv, "notauth")
	other, err := New(Config{Server: srv.Addr, Zone: "t-dns-absent.test.", Key: c.key, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = other.Replace(context.Background(), "web", addrs("10.200.1.104"), time.Second, nil)
	if !errors.Is(err, ErrNotAuth) {
		t.Fatalf("err = %v, want ErrNotAuth", err)
	}
	t.Logf("error: %v", err)
}

// TestIntegrationConcurrentReplace races two controllers that act on the
// same observed state: in every round exactly one compare-and-swap wins and
// the record holds the winner's address.
func TestIntegrationConcurrentReplace(t *testing.T) { forEachServer(t, testConcurrentReplace) }

func testConcurrentReplace(t *testing.T, lab *labtest.Lab, srv labtest.DNSServer) {
	c, name := serverFixture(t, lab, srv, "race")
	ctx := context.Background()
	start := addrs("10.200.0.105")
	for round := range 25 {
		if err := c.Replace(ctx, name, start, 10*time.Second, nil); err != nil {
			t.Fatal(err)
		}
		targets := [][]netip.Addr{addrs("10.200.1.105"), addrs("10.200.2.105")}
		errs := make([]error, len(targets))
		var wg sync.WaitGroup
		for i := range targets {
			wg.Go(func() { errs[i] = c.Replace(ctx, name, targets[i], 10*time.Second, start) })
		}
		wg.Wait()
		var winners []int
		for i, err := range errs {
			switch {
			case err == nil:
				winners = append(winners, i)
			case !errors.Is(err, ErrPrecondition):
				t.Fatalf("round %d: unexpected error: %v", round, err)
			}
		}
		if len(winners) != 1 {
			t.Fatalf("round %d: %d winners (errors %v), want exactly 1", round, len(winners), errs)
		}
		if got := plainQuery(t, srv.Addr, name); !slices.Equal(got, targets[winners[0]]) {
			t.Fatalf("round %d: %s answers %v, want the winner's %v", round, srv.Product, got, targets[winners[0]])
		}
	}
}

// TestIntegrationRejectedLookup: a signed query with a wrong secret or a
// clock outside the fudge fails the same way an update does, on each
// server (PowerDNS answers both with an unsigned NOTAUTH: ErrBadKey).
func TestIntegrationRejectedLookup(t *testing.T) { forEachServer(t, testRejectedLookup) }

func testRejectedLookup(t *testing.T, lab *labtest.Lab, srv labtest.DNSServer) {
	c, name := serverFixture(t, lab, srv, "rlookup")
	if err := c.Replace(context.Background(), name, addrs("10.200.0.106"), 10*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	wrongSecret, _ := testKey(t, c.key.Name, c.key.Algorithm)
	for _, tt := range []struct {
		name    string
		key     *Key
		skew    time.Duration
		wantErr error
		servers map[string]error
	}{
		{"wrong secret", wrongSecret, 0, ErrBadKey, nil},
		{"clock skew", c.key, -time.Hour, ErrBadTime, map[string]error{labtest.DNSPDNS: ErrBadKey}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bad, err := New(Config{Server: srv.Addr, Zone: lab.Zone, Key: tt.key, Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			bad.clock = clocktest.Skewed(tt.skew)
			want := tt.wantErr
			if e, ok := tt.servers[srv.Name]; ok {
				want = e
			}
			if _, err := bad.Lookup(context.Background(), name); !errors.Is(err, want) {
				t.Fatalf("Lookup: err = %v, want %v", err, want)
			} else {
				t.Logf("error: %v", err)
			}
		})
	}
}
