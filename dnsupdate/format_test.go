package dnsupdate

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"time"
)

func TestParseAndJoinAddrs(t *testing.T) {
	addrs, err := ParseAddrs("192.0.2.1, 2001:db8::1")
	if err != nil || len(addrs) != 2 {
		t.Fatalf("ParseAddrs = %v, %v", addrs, err)
	}
	if got := JoinAddrs(addrs); got != "192.0.2.1,2001:db8::1" {
		t.Errorf("JoinAddrs = %q", got)
	}
	if _, err := ParseAddrs("192.0.2.1,web"); err == nil || err.Error() != `"web" is not an IP address` {
		t.Errorf("ParseAddrs(web) = %v", err)
	}
}

func TestWriteRecords(t *testing.T) {
	var b bytes.Buffer
	ans := Answer{Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")}, TTL: 10 * time.Second}
	if err := WriteRecords(&b, "web.lab.test.", ans); err != nil {
		t.Fatal(err)
	}
	if want := "web.lab.test.\t10\tA\t192.0.2.1\nweb.lab.test.\t10\tAAAA\t2001:db8::1\n"; b.String() != want {
		t.Errorf("records = %q, want %q", b.String(), want)
	}
	if RRType(netip.MustParseAddr("::ffff:192.0.2.1")) != "A" {
		t.Error("an IPv4-mapped address is not an A record")
	}
}

func TestWriteVerified(t *testing.T) {
	var b bytes.Buffer
	WriteVerified(&b, []VerifyResult{{Server: "127.0.0.1:5354", Took: 1234567 * time.Microsecond}, {Server: "127.0.0.1:5355", Err: errors.New("timed out")}})
	if want := "  served by 127.0.0.1:5354 after 1.235s\n  NOT served by 127.0.0.1:5355: timed out\n"; b.String() != want {
		t.Errorf("verified = %q, want %q", b.String(), want)
	}
}
