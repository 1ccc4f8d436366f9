package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/yamlpos"
)

const validConfig = `listen: 127.0.0.1:9443
tls:
  cert: /etc/understudy/agent.crt
  key: /etc/understudy/agent.key
  client-ca: /etc/understudy/ca.crt
incus:
  socket: /var/lib/understudy-lab/standby-1/unix.socket
state-dir: /var/lib/understudy/agent
capacity:
  containers: 10
  memory: 2GiB
max-parallel: 3
network:
  gateway: 10.200.1.1
  prefix-len: 24
  pool: 10.200.1.100-10.200.1.199
`

func TestParseConfigValid(t *testing.T) {
	cfg, err := Parse("agent.yaml", []byte(validConfig))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Capacity.Memory != 2<<30 || cfg.Capacity.Containers != 10 || cfg.MaxParallel != 3 {
		t.Errorf("capacity/max-parallel not decoded: %+v", cfg)
	}
	if cfg.Network == nil || cfg.Network.first.String() != "10.200.1.100" || cfg.Network.last.String() != "10.200.1.199" {
		t.Errorf("network not decoded: %+v", cfg.Network)
	}
	// Defaults stay where the file is silent.
	if cfg.NIC != "eth0" || time.Duration(cfg.ActivateTimeout) != 30*time.Second || cfg.CRIU.Path != "criu" {
		t.Errorf("defaults lost: %+v", cfg)
	}
}

func TestParseConfigDefaults(t *testing.T) {
	cfg, err := Parse("a.yaml", []byte("tls: {cert: c, key: k, client-ca: ca}\nincus: {socket: /s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	if cfg.Listen != want.Listen || cfg.Capacity != want.Capacity || cfg.MaxParallel != 4 || cfg.Network != nil {
		t.Errorf("defaults: %+v", cfg)
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		desc, yaml, want string
	}{
		{"unknown key", "listen: 127.0.0.1:1\nlisten-addr: x\n", "agent.yaml:2:1: listen-addr: unknown key"},
		{"unknown nested key", validConfig + "  mask: 24\n", "agent.yaml:17:3: network.mask: unknown key"},
		{"bad memory", strings.Replace(validConfig, "2GiB", "lots", 1), "agent.yaml:11:11: capacity.memory: invalid size \"lots\""},
		{"bad duration", validConfig + "activate-timeout: soon\n", "agent.yaml:17:19: activate-timeout: invalid duration \"soon\""},
		{"wrong type", strings.Replace(validConfig, "max-parallel: 3", "max-parallel: many", 1), "agent.yaml:12:15: max-parallel: expected an integer"},
		{"missing tls", "incus: {socket: /s}\n", "agent.yaml:1:1: tls.cert: required"},
		{"no incus", strings.Replace(validConfig, "  socket: /var/lib/understudy-lab/standby-1/unix.socket\n", "  client-cert: x\n", 1), "agent.yaml:7:3: incus: set socket or url"},
		{"pool outside subnet", strings.Replace(validConfig, "10.200.1.199", "10.200.2.5", 1), "agent.yaml:16:9: network.pool: pool is outside 10.200.1.1/24"},
		{"pool reversed", strings.Replace(validConfig, "10.200.1.100-10.200.1.199", "10.200.1.199-10.200.1.100", 1), "agent.yaml:16:9: network.pool: last address is lower"},
		{"pool with gateway", strings.Replace(validConfig, "10.200.1.100-", "10.200.1.1-", 1), "network.pool: pool contains the gateway"},
		{"zero containers", strings.Replace(validConfig, "containers: 10", "containers: 0", 1), "agent.yaml:10:15: capacity.containers: must be at least 1"},
		{"bad listen", strings.Replace(validConfig, "127.0.0.1:9443", "nowhere", 1), "agent.yaml:1:9: listen: \"nowhere\" is not host:port"},
		{"empty", "", "agent.yaml:1:1: empty config"},
		{"syntax", "listen: [\n", "agent.yaml:"},
	}
	for _, tc := range tests {
		_, err := Parse("agent.yaml", []byte(tc.yaml))
		if err == nil {
			t.Errorf("%s: no error", tc.desc)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q does not contain %q", tc.desc, err, tc.want)
		}
	}
}

func TestLoadConfigFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(p, []byte("bogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), p+":1:1: bogus: unknown key") {
		t.Errorf("err = %v", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestParseSizeOfAgentConfig(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"4GiB", 4 << 30, true}, {"512MiB", 512 << 20, true}, {"1GB", 1e9, true}, {"1024", 1024, true},
		{"1 KiB", 1024, true}, {"-1", 0, false}, {"1.5GiB", 0, false}, {"3PB", 0, false}, {"", 0, false},
	}
	for _, tc := range tests {
		got, err := yamlpos.ParseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(validConfig))
	f.Add([]byte("network: {pool: 1.2.3.4-1.2.3.1}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.yaml", data)
		if err == nil && (cfg.MaxParallel < 1 || cfg.Capacity.Containers < 1) {
			t.Errorf("accepted an invalid config: %+v", cfg)
		}
	})
}

// TestLoadSource: load-source defaults to proc, takes cgroups with cpus,
// and refuses anything else at its position.
func TestLoadSource(t *testing.T) {
	cfg, err := Parse("agent.yaml", []byte(validConfig))
	if err != nil || cfg.LoadSource != LoadProc || cfg.CgroupRoot != "/sys/fs/cgroup" {
		t.Fatalf("default load source = %q, %q, %v", cfg.LoadSource, cfg.CgroupRoot, err)
	}
	cfg, err = Parse("agent.yaml", []byte(validConfig+"load-source: cgroups\ncpus: 2\n"))
	if err != nil || cfg.LoadSource != LoadCgroups || cfg.CPUs != 2 {
		t.Fatalf("cgroups = %q, %d, %v", cfg.LoadSource, cfg.CPUs, err)
	}
	_, err = Parse("agent.yaml", []byte(validConfig+"load-source: vmstat\n"))
	if err == nil || !strings.Contains(err.Error(), "agent.yaml:17:14: load-source: \"vmstat\" is not proc or cgroups") {
		t.Errorf("bad load source: %v", err)
	}
}
