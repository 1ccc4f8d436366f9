package labtest

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestDNSServersFollowLabDir(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("UNDERSTUDY_LAB_DIR", dir)
	lab := Layout()
	want := []DNSServer{
		{Name: DNSBind, Addr: "127.0.0.1:5353", KeyFile: filepath.Join(dir, "dns", "tsig.key"), KeyName: "understudy-key.", Dir: filepath.Join(dir, "dns")},
		{Name: DNSKnot, Addr: "127.0.0.1:5355", KeyFile: filepath.Join(dir, "knot", "tsig.key"), KeyName: "understudy-knot-key.", Dir: filepath.Join(dir, "knot")},
		{Name: DNSPDNS, Addr: "127.0.0.1:5356", KeyFile: filepath.Join(dir, "pdns", "tsig.key"), KeyName: "understudy-pdns-key.", Dir: filepath.Join(dir, "pdns")},
	}
	got := lab.DNSServers()
	if len(got) != len(want) {
		t.Fatalf("%d servers, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		g.Product = ""
		if g != w {
			t.Errorf("server %d = %+v, want %+v", i, g, w)
		}
		if got[i].Product == "" {
			t.Errorf("server %s has no product name", w.Name)
		}
	}
	if s := lab.DNSServerNamed(t, DNSKnot); s.Addr != "127.0.0.1:5355" {
		t.Errorf("DNSServerNamed(knot) = %+v", s)
	}
}

func TestDNSProblemNamesTheServer(t *testing.T) {
	t.Setenv("UNDERSTUDY_LAB_DIR", t.TempDir())
	s := Layout().DNSServers()[1]
	s.Addr = "127.0.0.1:1" // nothing listens there
	if got := s.problem(); !strings.Contains(got, "Knot DNS") || !strings.Contains(got, s.Addr) {
		t.Fatalf("problem() = %q, want it to name Knot DNS and %s", got, s.Addr)
	}
}
