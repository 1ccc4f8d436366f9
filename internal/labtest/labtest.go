// Package labtest tells integration tests where the local lab is, and makes
// them fail loudly when the lab is required but missing.
//
// The lab is built by examples/lab/lab.sh; HACKING.md documents its layout.
// This package only reads that layout; it never changes the lab.
package labtest

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Daemon describes one LXD daemon of the lab.
type Daemon struct {
	Name       string // host-a, host-b, standby-1 or spare-1
	Dir        string // LXD_DIR
	Socket     string // unix socket path
	HTTPS      string // https://127.0.0.1:PORT
	ServerCert string // path of the PEM file of the daemon's server certificate
	Bridge     string // bridge name
	Gateway    string // bridge address, e.g. 10.200.0.1
	PrefixLen  int    // prefix length of the bridge subnet
}

// Lab is the layout of the local lab; see HACKING.md.
type Lab struct {
	Dir   string
	HostA Daemon
	// HostB is the second primary hypervisor (zone az2 in lab.yaml), the
	// fleet's; a test that uses it calls NeedHostB first.
	HostB      Daemon
	Standby    Daemon
	Spare      Daemon
	ClientCert string // PEM file trusted by all four daemons
	ClientKey  string
	Image      string // image alias present on every daemon
	DNSServer  string // host:port of BIND
	// DNSSecondary is the host:port of a second BIND, a secondary of Zone
	// (zone transfers from DNSServer on NOTIFY), in the lab's dns.verify.
	// Its files are in DNSSecondaryDir.
	DNSSecondary    string
	DNSSecondaryDir string
	Zone            string // the lab zone, fully qualified
	KeyFile         string // BIND key file for the zone's TSIG key
	Inventory       string // path of the generated lab inventory
	// Primaries are the demo's primary "VMs" on HostA. Tests must not touch
	// them; they are listed so tests can avoid their names and addresses.
	Primaries []Primary
	// PKI holds the lab's mutual-TLS files for understudy itself.
	PKI PKI
	// AgentConfig is the generated config of the standby agent of standby-1.
	AgentConfig string
}

// Primary is one of the demo's primary "VMs" (a container on host-a).
type Primary struct {
	Name    string // instance name, e.g. web-vm
	Address string // IPv4 address, e.g. 10.200.0.11
	FQDN    string // DNS name pointing at it, e.g. web.lab.test.
}

// PKI names the lab's mutual-TLS files (PEM), made by lab.sh with openssl.
type PKI struct {
	Dir         string
	CACert      string // the CA both sides trust
	CAKey       string
	AgentCert   string // server certificate, SAN IP:127.0.0.1 and DNS:localhost
	AgentKey    string
	MonitorCert string // client certificate
	MonitorKey  string
}

// Layout returns the lab layout without checking that it is up.
func Layout() *Lab {
	dir := os.Getenv("UNDERSTUDY_LAB_DIR")
	if dir == "" {
		dir = "/var/lib/understudy-lab"
	}
	daemon := func(name, port, gw string) Daemon {
		d := filepath.Join(dir, name)
		return Daemon{
			Name: name, Dir: d, Socket: filepath.Join(d, "unix.socket"),
			HTTPS: "https://127.0.0.1:" + port, ServerCert: filepath.Join(d, "server.crt"),
			Bridge: "us-" + name, Gateway: gw, PrefixLen: 24,
		}
	}
	return &Lab{
		Dir:             dir,
		HostA:           daemon("host-a", "8443", "10.200.0.1"),
		HostB:           daemon("host-b", "8446", "10.200.3.1"),
		Standby:         daemon("standby-1", "8444", "10.200.1.1"),
		Spare:           daemon("spare-1", "8445", "10.200.2.1"),
		ClientCert:      filepath.Join(dir, "client.crt"),
		ClientKey:       filepath.Join(dir, "client.key"),
		Image:           "understudy-busybox",
		DNSServer:       "127.0.0.1:5353",
		DNSSecondary:    "127.0.0.1:5354",
		DNSSecondaryDir: filepath.Join(dir, "dns2"),
		Zone:            "lab.test.",
		KeyFile:         filepath.Join(dir, "dns", "tsig.key"),
		Inventory:       filepath.Join(repoRoot(), "examples", "lab", "lab.yaml"),
		Primaries: []Primary{
			{Name: "web-vm", Address: "10.200.0.11", FQDN: "web.lab.test."},
			{Name: "api-vm", Address: "10.200.0.12", FQDN: "api.lab.test."},
		},
		PKI:         pkiLayout(filepath.Join(dir, "pki")),
		AgentConfig: filepath.Join(dir, "agent.yaml"),
	}
}

func pkiLayout(dir string) PKI {
	f := func(name string) string { return filepath.Join(dir, name) }
	return PKI{
		Dir:    dir,
		CACert: f("ca.crt"), CAKey: f("ca.key"),
		AgentCert: f("agent.crt"), AgentKey: f("agent.key"),
		MonitorCert: f("monitor.crt"), MonitorKey: f("monitor.key"),
	}
}

// Skip skips t with the reason, except where the lab is required (see
// Required): there a missing capability (root, a lab tool) means the
// machine was not set up, and the test fails instead of hiding it.
func Skip(t testing.TB, format string, args ...any) {
	t.Helper()
	if Required() {
		t.Fatalf("required here (%s), cannot run: "+format, append([]any{requiredBecause()}, args...)...)
	}
	t.Skipf("skipping: "+format, args...)
}

// The variables that make the lab required, in the order they are asked.
const (
	EnvRequireLab = "UNDERSTUDY_REQUIRE_LAB"
	EnvCI         = "CI"
)

// Required reports whether a missing lab, or a missing lab capability,
// fails tests instead of skipping them. The one rule: UNDERSTUDY_REQUIRE_LAB
// decides when it is set to anything; otherwise CI decides. A variable
// that is set counts as true unless its value is one of 0, false, no, off
// or n (any case, surrounding blanks ignored), so CI=1, CI=true, CI=yes and
// UNDERSTUDY_REQUIRE_LAB=TRUE all require the lab, and
// UNDERSTUDY_REQUIRE_LAB=0 lets a CI job skip it.
func Required() bool { return requiredBy(os.Getenv) }

func requiredBy(getenv func(string) string) bool {
	for _, name := range []string{EnvRequireLab, EnvCI} {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return !falseWord(v)
		}
	}
	return false
}

// falseWord reports whether v says no.
func falseWord(v string) bool {
	switch strings.ToLower(v) {
	case "0", "false", "no", "off", "n", "f":
		return true
	}
	return false
}

// requiredBecause names the variable that made the lab required.
func requiredBecause() string {
	for _, name := range []string{EnvRequireLab, EnvCI} {
		if v := strings.TrimSpace(os.Getenv(name)); v != "" {
			return name + "=" + v
		}
	}
	return "no variable set"
}

// Require returns the lab when it is up. When it is not, the test is skipped
// with the reason, or failed where the lab is required (see Required).
func Require(t testing.TB) *Lab {
	t.Helper()
	lab := Layout()
	if reason := lab.problem(); reason != "" {
		if Required() {
			t.Fatalf("the lab is required (%s) but %s; run `make lab-up`", requiredBecause(), reason)
		}
		t.Skipf("skipping integration test: %s (run `make lab-up`, or `make test` which does it)", reason)
	}
	return lab
}

// NeedHostB skips t (or fails it where the lab is required) when the lab
// has no host-b: a lab brought up by a lab.sh older than host-b has the
// other three daemons only, and Require accepts it.
func (l *Lab) NeedHostB(t testing.TB) {
	t.Helper()
	c, err := net.DialTimeout("unix", l.HostB.Socket, time.Second)
	if err != nil {
		Skip(t, "the lab has no host-b (%s does not answer); run `lab.sh up` of this tree", l.HostB.Socket)
		return
	}
	c.Close()
}

// problem says what is missing, or "" when the lab answers.
func (l *Lab) problem() string {
	for _, d := range []Daemon{l.HostA, l.Standby, l.Spare} {
		c, err := net.DialTimeout("unix", d.Socket, time.Second)
		if err != nil {
			return "LXD daemon " + d.Name + " does not answer on " + d.Socket
		}
		c.Close()
	}
	c, err := net.DialTimeout("tcp", l.DNSServer, time.Second)
	if err != nil {
		return "BIND does not answer on " + l.DNSServer
	}
	c.Close()
	for _, f := range []string{l.KeyFile, l.ClientCert, l.PKI.MonitorCert} {
		if _, err := os.Stat(f); err != nil {
			return "the lab file " + f + " is missing"
		}
	}
	return ""
}

// repoRoot finds the module root by walking up to go.mod.
func repoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return "."
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}

// Tool returns the path of a program the tests need, or skips with how to
// install it (a failure where the lab is required, like Skip).
func Tool(t testing.TB, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Skip(t, "%s is not installed (%s installs it)", name, install)
	}
	return p
}
