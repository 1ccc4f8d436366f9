package labtest

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestLayoutFollowsLabDir(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("UNDERSTUDY_LAB_DIR", dir)
	lab := Layout()
	checks := []struct{ got, want string }{
		{lab.Dir, dir},
		{lab.HostA.Socket, filepath.Join(dir, "host-a", "unix.socket")},
		{lab.Standby.HTTPS, "https://127.0.0.1:8444"},
		{lab.HostB.HTTPS, "https://127.0.0.1:8446"},
		{lab.HostB.Bridge, "us-host-b"},
		{lab.HostB.Gateway, "10.200.3.1"},
		{lab.Spare.ServerCert, filepath.Join(dir, "spare-1", "server.crt")},
		{lab.Standby.Bridge, "us-standby-1"},
		{lab.KeyFile, filepath.Join(dir, "dns", "tsig.key")},
		{lab.DNSSecondary, "127.0.0.1:5354"},
		{lab.DNSSecondaryDir, filepath.Join(dir, "dns2")},
		{lab.PKI.AgentCert, filepath.Join(dir, "pki", "agent.crt")},
		{lab.AgentConfig, filepath.Join(dir, "agent.yaml")},
		{filepath.Base(lab.Inventory), "lab.yaml"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestProblemNamesTheMissingDaemon(t *testing.T) {
	t.Setenv("UNDERSTUDY_LAB_DIR", t.TempDir())
	got := Layout().problem()
	if !strings.Contains(got, "host-a") {
		t.Fatalf("problem() = %q, want it to name the missing daemon host-a", got)
	}
}
