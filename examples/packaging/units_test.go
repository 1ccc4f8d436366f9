package packaging

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/understudy/understudy/internal/icmp"
	"github.com/understudy/understudy/inventory"
	agentconfig "github.com/understudy/understudy/standby/config"
)

// unitDirectives reads a unit file's [Service] directives: key → values in
// order (a key may repeat).
func unitDirectives(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]":
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: not a directive: %q", path, line)
			}
			out[k] = append(out[k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestUnitsAreHardened checks every unit for the hardening the package
// promises (README.md's table) and for exactly the capabilities each
// daemon needs.
func TestUnitsAreHardened(t *testing.T) {
	common := map[string]string{
		"User": "understudy", "Group": "understudy", "Restart": "on-failure",
		"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
		"PrivateTmp": "yes", "PrivateDevices": "yes", "PrivateMounts": "yes",
		"ProtectKernelTunables": "yes", "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes",
		"ProtectControlGroups": "yes", "ProtectClock": "yes", "ProtectHostname": "yes",
		"ProtectProc": "invisible", "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
		"RestrictNamespaces": "yes", "RestrictRealtime": "yes", "RestrictSUIDSGID": "yes",
		"LockPersonality": "yes", "MemoryDenyWriteExecute": "yes", "SystemCallArchitectures": "native",
		"UMask": "0077", "LimitCORE": "0",
	}
	for _, tc := range []struct {
		unit, exec, caps, ambient, state string
	}{
		{"understudy-monitor.service", "/usr/bin/understudy monitor -f /etc/understudy/monitor.yaml", "CAP_NET_RAW", "CAP_NET_RAW", "understudy"},
		{"understudy-agent.service", "/usr/bin/understudy agent --config /etc/understudy/agent.yaml", "", "", "understudy/agent"},
		{"understudy-proxy.service", "/usr/bin/understudy proxy -f /etc/understudy/proxy.yaml", "CAP_NET_RAW", "CAP_NET_RAW", ""},
	} {
		d := unitDirectives(t, filepath.Join("systemd", tc.unit))
		for k, want := range common {
			if got := d[k]; len(got) != 1 || got[0] != want {
				t.Errorf("%s: %s=%q, want %q", tc.unit, k, got, want)
			}
		}
		if got := d["ExecStart"]; len(got) != 1 || got[0] != tc.exec {
			t.Errorf("%s: ExecStart=%q, want %q", tc.unit, got, tc.exec)
		}
		if got := d["CapabilityBoundingSet"]; len(got) != 1 || got[0] != tc.caps {
			t.Errorf("%s: CapabilityBoundingSet=%q, want %q", tc.unit, got, tc.caps)
		}
		if got := strings.Join(d["AmbientCapabilities"], " "); got != tc.ambient {
			t.Errorf("%s: AmbientCapabilities=%q, want %q", tc.unit, got, tc.ambient)
		}
		if got := strings.Join(d["StateDirectory"], " "); got != tc.state {
			t.Errorf("%s: StateDirectory=%q, want %q", tc.unit, got, tc.state)
		}
		if got := strings.Join(d["SystemCallFilter"], " | "); got != "@system-service | ~@privileged" {
			t.Errorf("%s: SystemCallFilter=%q", tc.unit, got)
		}
	}
}

// writeKey writes a TSIG key file as the postinst does.
func writeKey(t *testing.T, dir string) {
	t.Helper()
	key := "key \"understudy-key.\" {\n\talgorithm hmac-sha256;\n\tsecret \"dGVzdC1vbmx5LXNlY3JldC1ub3QtZm9yLXVzZS0xMjM0NTY=\";\n};\n"
	if err := os.WriteFile(filepath.Join(dir, "tsig.key"), []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestDefaultConfigsValidate loads the shipped monitor and proxy
// inventories next to a key like the one the postinst writes, and the
// agent's configuration, with the loaders the daemons use.
func TestDefaultConfigsValidate(t *testing.T) {
	dir := t.TempDir()
	writeKey(t, dir)
	for _, name := range []string{"monitor.yaml", "proxy.yaml"} {
		src, err := os.ReadFile(filepath.Join("etc", name))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, src, 0o644); err != nil {
			t.Fatal(err)
		}
		inv, err := inventory.Load(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if w := inv.Warnings(); len(w) > 0 {
			t.Errorf("%s: warnings %v", name, w)
		}
		if inv.Monitor.StateDir != "/var/lib/understudy" {
			t.Errorf("%s: monitor.state-dir %q, want the monitor unit's StateDirectory", name, inv.Monitor.StateDir)
		}
	}
	cfg, err := agentconfig.Load(filepath.Join("etc", "agent.yaml"))
	if err != nil {
		t.Fatalf("agent.yaml: %v", err)
	}
	if cfg.StateDir != "/var/lib/understudy/agent" {
		t.Errorf("agent.yaml: state-dir %q, want the agent unit's StateDirectory", cfg.StateDir)
	}
}

// TestSysctlDropInShipped: the package installs the sysctl drop-in that
// lets the daemons' raw ICMP socket have its 4 MiB receive buffer without
// CAP_NET_ADMIN (internal/icmp ReadBuffer), and it sets net.core.rmem_max
// to at least that.
func TestSysctlDropInShipped(t *testing.T) {
	const src, dst = "examples/packaging/sysctl/60-understudy.conf", "/usr/lib/sysctl.d/60-understudy.conf"
	nfpm, err := os.ReadFile("nfpm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(nfpm), "src: "+src+"\n    dst: "+dst+"\n") {
		t.Errorf("nfpm.yaml does not install %s as %s", src, dst)
	}
	conf, err := os.ReadFile(filepath.Join("sysctl", "60-understudy.conf"))
	if err != nil {
		t.Fatal(err)
	}
	var rmem int
	for _, line := range strings.Split(string(conf), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if ok && strings.TrimSpace(k) == "net.core.rmem_max" {
			if rmem, err = strconv.Atoi(strings.TrimSpace(v)); err != nil {
				t.Fatalf("60-understudy.conf: net.core.rmem_max: %v", err)
			}
		}
	}
	if rmem < icmp.ReadBuffer {
		t.Errorf("60-understudy.conf: net.core.rmem_max = %d, want at least icmp.ReadBuffer (%d)", rmem, icmp.ReadBuffer)
	}
}
