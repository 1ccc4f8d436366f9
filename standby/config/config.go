// Package config reads the standby agent's agent.yaml: strictly, with
// defaults, every error at file:line:col (internal/yamlpos) and all of them
// at once. It does not open the files it names (certificates, the Incus
// socket); the agent does when it starts.
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/understudy/understudy/internal/yamlpos"
)

// Config is the agent's configuration. standby/README.md lists every key
// and its default.
type Config struct {
	Name            string   `yaml:"name"`
	Listen          string   `yaml:"listen"`
	TLS             TLSFiles `yaml:"tls"`
	Incus           Incus    `yaml:"incus"`
	StateDir        string   `yaml:"state-dir"`
	Capacity        Capacity `yaml:"capacity"`
	MaxParallel     int      `yaml:"max-parallel"`
	Network         *Network `yaml:"network"`
	NIC             string   `yaml:"nic"`
	ActivateTimeout Duration `yaml:"activate-timeout"`
	StopTimeout     Duration `yaml:"stop-timeout"`
	CRIU            CRIU     `yaml:"criu"`
	// LoadSource is where the agent measures its VM's CPU and memory use
	// (GET /v1/capacity): LoadProc or LoadCgroups.
	LoadSource LoadSource `yaml:"load-source"`
	// CPUs is the VM's declared CPUs, which CPU use is a share of; 0: the
	// CPUs this process sees (runtime.NumCPU).
	CPUs int `yaml:"cpus"`
	// CgroupRoot is where the cgroup hierarchies are mounted.
	CgroupRoot string `yaml:"cgroup-root"`
}

// LoadSource is agent.yaml's load-source.
type LoadSource string

// The load sources.
const (
	// LoadProc reads the machine's /proc: right where the agent runs on
	// the VM it describes.
	LoadProc LoadSource = "proc"
	// LoadCgroups sums the cgroups of the instances the agent's Incus
	// daemon runs: right where several daemons share one machine (the
	// lab), so that /proc describes none of them.
	LoadCgroups LoadSource = "cgroups"
)

// TLSFiles are the agent's server certificate and the CA its clients must present certificates from.
type TLSFiles struct {
	Cert     string `yaml:"cert"`
	Key      string `yaml:"key"`
	ClientCA string `yaml:"client-ca"`
	// MonitorNames are the certificate names (common name or DNS SAN) of
	// the monitors: only they may prepare, activate, deactivate and delete,
	// and so send fencing epochs. Other certificates of ClientCA may read
	// and probe. Empty means DefaultMonitorNames.
	MonitorNames []string `yaml:"monitor-names"`
}

// Monitors returns MonitorNames, or DefaultMonitorNames when it is empty.
func (t TLSFiles) Monitors() []string {
	if len(t.MonitorNames) == 0 {
		return DefaultMonitorNames
	}
	return t.MonitorNames
}

// DefaultMonitorNames are the names `understudy certs issue --name monitor`
// and the lab (CN understudy-monitor) give the monitor's agent certificate.
var DefaultMonitorNames = []string{"monitor", "understudy-monitor"}

// Incus says how to reach Incus/LXD: a unix socket, or HTTPS with a
// client certificate and the pinned server certificate.
type Incus struct {
	Socket     string `yaml:"socket"`
	URL        string `yaml:"url"`
	ClientCert string `yaml:"client-cert"`
	ClientKey  string `yaml:"client-key"`
	ServerCert string `yaml:"server-cert"`
}

// Capacity bounds what the agent runs at once.
type Capacity struct {
	Containers int      `yaml:"containers"`
	Memory     ByteSize `yaml:"memory"`
}

// Network makes the agent give each service a static address from a pool.
type Network struct {
	Gateway   string `yaml:"gateway"`
	PrefixLen int    `yaml:"prefix-len"`
	Pool      string `yaml:"pool"` // FIRST-LAST, inclusive

	gateway     netip.Addr
	first, last netip.Addr
}

// CRIU tunes the start-up CRIU probe.
type CRIU struct {
	Path         string   `yaml:"path"`
	ProbeTimeout Duration `yaml:"probe-timeout"`
	Disable      bool     `yaml:"disable"`
}

// ErrInvalid is wrapped by every error about the content of agent.yaml.
var ErrInvalid = errors.New("invalid agent config")

// Default returns the configuration with every default set.
func Default() Config {
	return Config{
		Listen:          "127.0.0.1:9443",
		StateDir:        "/var/lib/understudy/agent",
		Capacity:        Capacity{Containers: 20, Memory: 4 << 30},
		MaxParallel:     4,
		NIC:             "eth0",
		ActivateTimeout: Duration(30 * time.Second),
		CRIU:            CRIU{Path: "criu", ProbeTimeout: Duration(5 * time.Second)},
		LoadSource:      LoadProc,
		CgroupRoot:      "/sys/fs/cgroup",
	}
}

// Load reads and validates the file at path. Every error carries
// path:line:col.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes data strictly (unknown keys are errors, with the
// closest known key suggested) and validates it. name is used in error
// messages; every error carries name:line:col and the key's path, all of
// them at once (yamlpos.Errors, wrapped with ErrInvalid).
func Parse(name string, data []byte) (Config, error) {
	cfg := Default()
	d := yamlpos.NewDecoder(name, "config")
	root, ferr := yamlpos.ReadDocument(name, data)
	if root == nil && ferr == nil {
		ferr = &yamlpos.Error{File: name, Line: 1, Col: 1, Msg: "empty config"}
	}
	if ferr != nil {
		return Config{}, invalid(yamlpos.Errors{ferr})
	}
	decodeConfig(d, root, &cfg)
	if d.ErrCount() == 0 {
		cfg.validateOn(d)
	}
	if err := invalid(d.Errs()); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Validate reports every invalid setting of a Config built in code
// (yamlpos.Errors wrapped with ErrInvalid; paths without positions).
func (c *Config) Validate() error {
	d := yamlpos.NewDecoder("config", "config")
	c.validateOn(d)
	return invalid(d.Errs())
}

func invalid(errs yamlpos.Errors) error {
	if errs == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalid, errs)
}

// validateOn records every invalid setting on d, at the key's position.
func (c *Config) validateOn(d *yamlpos.Decoder) {
	add := func(msg string, path ...string) { d.ErrPath(strings.Join(path, "."), "%s", msg) }
	if _, err := netip.ParseAddrPort(c.Listen); err != nil {
		if _, _, err2 := splitHostPort(c.Listen); err2 != nil {
			add(fmt.Sprintf("%q is not host:port", c.Listen), "listen")
		}
	}
	for _, f := range []struct{ v, k string }{{c.TLS.Cert, "cert"}, {c.TLS.Key, "key"}, {c.TLS.ClientCA, "client-ca"}} {
		if f.v == "" {
			add("required (the agent only serves mutual TLS)", "tls", f.k)
		}
	}
	if slices.Contains(c.TLS.MonitorNames, "") {
		add("must not hold an empty name", "tls", "monitor-names")
	}
	switch {
	case c.Incus.Socket == "" && c.Incus.URL == "":
		add("set socket or url", "incus")
	case c.Incus.Socket != "" && c.Incus.URL != "":
		add("set socket or url, not both", "incus", "url")
	case c.Incus.URL != "" && (c.Incus.ClientCert == "" || c.Incus.ClientKey == ""):
		add("an https url needs client-cert and client-key", "incus", "url")
	}
	if c.StateDir == "" {
		add("required", "state-dir")
	}
	if c.Capacity.Containers < 1 {
		add("must be at least 1", "capacity", "containers")
	}
	if c.Capacity.Memory <= 0 {
		add("must be positive", "capacity", "memory")
	}
	if c.MaxParallel < 1 {
		add("must be at least 1", "max-parallel")
	}
	if c.NIC == "" {
		add("required", "nic")
	}
	if c.ActivateTimeout <= 0 {
		add("must be positive", "activate-timeout")
	}
	if c.StopTimeout < 0 {
		add("must not be negative", "stop-timeout")
	}
	if c.LoadSource != LoadProc && c.LoadSource != LoadCgroups {
		add(fmt.Sprintf("%q is not proc or cgroups", c.LoadSource), "load-source")
	}
	if c.CPUs < 0 {
		add("must not be negative (0: the CPUs the agent sees)", "cpus")
	}
	if c.LoadSource == LoadCgroups && c.CgroupRoot == "" {
		add("required with load-source: cgroups", "cgroup-root")
	}
	if c.CRIU.ProbeTimeout <= 0 {
		add("must be positive", "criu", "probe-timeout")
	}
	if c.Network != nil {
		c.Network.validateWith(add)
	}
}

// Validate reports the problems of a Network built in code, and makes its
// range readable (Range).
func (n *Network) Validate() error {
	d := yamlpos.NewDecoder("config", "config")
	n.validateWith(func(msg string, path ...string) { d.ErrPath(strings.Join(path, "."), "%s", msg) })
	return invalid(d.Errs())
}

// Range is the pool's first and last address (set by validation).
func (n *Network) Range() (first, last netip.Addr) { return n.first, n.last }

func (n *Network) validateWith(add func(msg string, path ...string)) {
	if n.PrefixLen == 0 {
		n.PrefixLen = 24 // the default
	}
	gw, err := netip.ParseAddr(n.Gateway)
	if err != nil || !gw.Is4() {
		add(fmt.Sprintf("%q is not an IPv4 address", n.Gateway), "network", "gateway")
	}
	n.gateway = gw
	if n.PrefixLen < 1 || n.PrefixLen > 30 {
		add(fmt.Sprintf("%d is not between 1 and 30", n.PrefixLen), "network", "prefix-len")
		return
	}
	a, b, ok := strings.Cut(n.Pool, "-")
	first, err1 := netip.ParseAddr(strings.TrimSpace(a))
	last, err2 := netip.ParseAddr(strings.TrimSpace(b))
	switch {
	case !ok || err1 != nil || err2 != nil || !first.Is4() || !last.Is4():
		add(fmt.Sprintf("%q is not FIRST-LAST of IPv4 addresses", n.Pool), "network", "pool")
	case last.Less(first):
		add("last address is lower than the first", "network", "pool")
	case gw.IsValid() && !(netip.PrefixFrom(gw, n.PrefixLen).Masked().Contains(first) && netip.PrefixFrom(gw, n.PrefixLen).Masked().Contains(last)):
		add(fmt.Sprintf("pool is outside %s/%d", gw, n.PrefixLen), "network", "pool")
	case gw.IsValid() && !gw.Less(first) && !last.Less(gw):
		add("pool contains the gateway", "network", "pool")
	}
	n.first, n.last = first, last
}

func splitHostPort(s string) (string, int, error) {
	i := strings.LastIndex(s, ":")
	if i < 0 {
		return "", 0, errors.New("missing port")
	}
	p, err := strconv.Atoi(s[i+1:])
	if err != nil || p < 0 || p > 65535 {
		return "", 0, errors.New("bad port")
	}
	return s[:i], p, nil
}

// Duration is a time.Duration written as "5s", "250ms" in YAML.
type Duration time.Duration

// ByteSize is a size in bytes, written as 536870912, "512MiB", "4GiB" or
// "1G" in YAML: the inventory's sizes (yamlpos.ParseSize).
type ByteSize int64
