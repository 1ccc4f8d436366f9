// Package labconn connects a lab test to the lab's primary hypervisor
// (host-a), its shared standby VM (standby-1) and its DNS server. It is
// apart from package labtest because lxd's and dnsupdate's own tests use
// labtest, and those packages cannot be imported back from there.
package labconn

import (
	"context"
	"testing"

	"github.com/understudy/understudy/dnsupdate"
	"github.com/understudy/understudy/internal/labtest"
	"github.com/understudy/understudy/lxd"
)

// Conns are the lab's clients a test world builds on; they close with the
// test.
type Conns struct {
	HostA, Standby *lxd.Client
	DNS            *dnsupdate.Client
}

// Open connects to host-a, standby-1 and the lab's BIND (with its TSIG
// key), failing the test when one cannot be reached.
func Open(ctx context.Context, t testing.TB, lab *labtest.Lab) Conns {
	t.Helper()
	var c Conns
	var err error
	if c.HostA, err = lxd.Connect(ctx, lxd.Conn{Name: "host-a", Socket: lab.HostA.Socket}); err != nil {
		t.Fatalf("connect to host-a: %v", err)
	}
	t.Cleanup(c.HostA.Close)
	if c.Standby, err = lxd.Connect(ctx, lxd.Conn{Name: "standby-1", Socket: lab.Standby.Socket}); err != nil {
		t.Fatalf("connect to standby-1: %v", err)
	}
	t.Cleanup(c.Standby.Close)
	key, err := dnsupdate.LoadKeyFile(lab.KeyFile)
	if err != nil {
		t.Fatalf("load the lab's TSIG key: %v", err)
	}
	if c.DNS, err = dnsupdate.New(dnsupdate.Config{Server: lab.DNSServer, Zone: lab.Zone, Key: key}); err != nil {
		t.Fatalf("dns client: %v", err)
	}
	return c
}
