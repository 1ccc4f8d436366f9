package labtest

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// DNSServer is one of the lab's RFC 2136 primaries of Zone. Each has its own
// TSIG key (hmac-sha256, a BIND key file of mode 0600) and starts from the
// same zone content; examples/lab/dns-servers.sh runs the ones beside BIND.
type DNSServer struct {
	Name    string // bind, knot or pdns: a subtest name
	Product string // what runs there, for messages: "BIND 9", "Knot DNS", "PowerDNS"
	Addr    string // host:port
	KeyFile string // its TSIG key file
	KeyName string // the key's name, fully qualified
	Dir     string // its files (config, zone or database, log)
}

// The lab's DNS servers by name.
const (
	DNSBind = "bind"
	DNSKnot = "knot"
	DNSPDNS = "pdns"
)

// DNSServers lists the lab's RFC 2136 primaries of Zone: BIND (DNSServer,
// KeyFile), Knot DNS on 127.0.0.1:5355 and PowerDNS Authoritative (SQLite
// backend) on 127.0.0.1:5356. They do not share records: an update sent to
// one is seen only there.
func (l *Lab) DNSServers() []DNSServer {
	return []DNSServer{
		{Name: DNSBind, Product: "BIND 9", Addr: l.DNSServer, KeyFile: l.KeyFile, KeyName: "understudy-key.", Dir: filepath.Dir(l.KeyFile)},
		l.otherDNS(DNSKnot, "Knot DNS", "127.0.0.1:5355", "understudy-knot-key."),
		l.otherDNS(DNSPDNS, "PowerDNS", "127.0.0.1:5356", "understudy-pdns-key."),
	}
}

func (l *Lab) otherDNS(name, product, addr, key string) DNSServer {
	dir := filepath.Join(l.Dir, name)
	return DNSServer{Name: name, Product: product, Addr: addr, KeyFile: filepath.Join(dir, "tsig.key"), KeyName: key, Dir: dir}
}

// DNSServerNamed returns the lab's DNS server called name (DNSBind,
// DNSKnot or DNSPDNS); it fails t for another name.
func (l *Lab) DNSServerNamed(t testing.TB, name string) DNSServer {
	t.Helper()
	for _, s := range l.DNSServers() {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("the lab has no DNS server %q", name)
	return DNSServer{}
}

// RequireDNS checks that s answers on TCP and that its key file exists. When
// it does not, t is skipped with the reason, or failed where the lab is
// required (see Required), as Require does for the whole lab.
func RequireDNS(t testing.TB, s DNSServer) {
	t.Helper()
	if reason := s.problem(); reason != "" {
		Skip(t, "%s; run `bash examples/lab/lab.sh up`", reason)
	}
}

func (s DNSServer) problem() string {
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return s.Product + " does not answer on " + s.Addr
	}
	c.Close()
	if _, err := os.Stat(s.KeyFile); err != nil {
		return "the TSIG key file of " + s.Product + " (" + s.KeyFile + ") is missing"
	}
	return ""
}
