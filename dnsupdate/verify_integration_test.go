package dnsupdate

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// requireSecondary returns the lab's secondary BIND, failing (under
// UNDERSTUDY_REQUIRE_LAB=1) or skipping when it does not answer.
func requireSecondary(t *testing.T, c *Client, addr string) {
	t.Helper()
	sc, err := New(Config{Server: addr, Zone: c.Zone(), Timeout: time.Second, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Lookup(context.Background(), "@"); err != nil {
		t.Fatalf("the lab's secondary BIND does not serve %s at %s (run `bash examples/lab/lab.sh up`): %v", c.Zone(), addr, err)
	}
}

// TestIntegrationVerifySecondary swaps a record at the lab's primary BIND and
// waits until the secondary, which transfers the zone on NOTIFY, answers the
// new address: the verification the monitor's dns-replace step does with
// dns.verify.
func TestIntegrationVerifySecondary(t *testing.T) {
	lab, c, name := labFixture(t, "verify")
	requireSecondary(t, c, lab.DNSSecondary)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Replace(ctx, name, addrs("10.200.1.139"), 10*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Verify(ctx, name, addrs("10.200.1.139"), []string{lab.DNSSecondary}); err != nil {
		t.Fatalf("first record: %v", err)
	}
	for _, to := range []string{"10.200.2.139", "10.200.1.139"} { // a failover and a failback
		from := "10.200.1.139"
		if to == from {
			from = "10.200.2.139"
		}
		if err := c.Replace(ctx, name, addrs(to), 10*time.Second, addrs(from)); err != nil {
			t.Fatal(err)
		}
		res, err := c.Verify(ctx, name, addrs(to), []string{lab.DNSSecondary})
		if err != nil {
			t.Fatalf("swap to %s: %v", to, err)
		}
		if len(res) != 1 || res[0].Server != lab.DNSSecondary || res[0].Err != nil || res[0].Took <= 0 {
			t.Fatalf("results %+v, want the secondary verified", res)
		}
		t.Logf("secondary %s answers %s %v after the swap returned", lab.DNSSecondary, to, res[0].Took)
		if got := plainQuery(t, lab.DNSSecondary, name); len(got) != 1 || got[0].String() != to {
			t.Errorf("plain query at the secondary: %v, want %s", got, to)
		}
	}
}

// TestIntegrationVerifyNeverConverges: a dns.verify server with nothing
// listening, and the secondary asked about a zone it does not serve, never
// answer the new set; Verify ends with the context and names each of them.
// The secondary that does converge is verified first, with as long a
// deadline as TestIntegrationVerifySecondary gives it, so only the calls
// that must fail get a short one.
func TestIntegrationVerifyNeverConverges(t *testing.T) {
	lab, c, name := labFixture(t, "noverify")
	requireSecondary(t, c, lab.DNSSecondary)
	ln, err := net.ListenPacket("udp", "127.0.0.1:0") // a port nobody answers on: bound, never read
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	silent := ln.LocalAddr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Replace(ctx, name, addrs("10.200.1.138"), 10*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	if res, err := c.Verify(ctx, name, addrs("10.200.1.138"), []string{lab.DNSSecondary}); err != nil || len(res) != 1 || res[0].Err != nil {
		t.Fatalf("the secondary: %+v, %v, want it verified", res, err)
	}
	vctx, vcancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer vcancel()
	res, err := c.Verify(vctx, name, addrs("10.200.1.138"), []string{silent})
	if !errors.Is(err, ErrVerify) || !strings.Contains(err.Error(), silent) {
		t.Fatalf("err = %v, want ErrVerify naming %s", err, silent)
	}
	if len(res) != 1 || res[0].Err == nil || !strings.Contains(res[0].Err.Error(), silent) {
		t.Fatalf("results %+v, want %s not verified", res, silent)
	}

	other, err := New(Config{Server: lab.DNSServer, Zone: "t-dns-nozone.test.", Timeout: 300 * time.Millisecond, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	vctx2, cancel2 := context.WithTimeout(context.Background(), time.Second)
	defer cancel2()
	_, err = other.Verify(vctx2, "web", addrs("10.200.1.138"), []string{lab.DNSSecondary})
	if !errors.Is(err, ErrVerify) || !strings.Contains(err.Error(), lab.DNSSecondary) {
		t.Fatalf("a zone the secondary does not serve: %v, want ErrVerify naming %s", err, lab.DNSSecondary)
	}
}
