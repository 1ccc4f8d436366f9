package standby

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/understudy/understudy/internal/yamlpos"
)

// Config is the agent's configuration, read from agent.yaml. See README.md
// for every key and its default.
type Config struct {
	Name            string         `yaml:"name"`
	Listen          string         `yaml:"listen"`
	TLS             TLSFiles       `yaml:"tls"`
	Incus           IncusConfig    `yaml:"incus"`
	StateDir        string         `yaml:"state-dir"`
	Capacity        CapacityConfig `yaml:"capacity"`
	MaxParallel     int            `yaml:"max-parallel"`
	Network         *NetworkConfig `yaml:"network"`
	NIC             string         `yaml:"nic"`
	ActivateTimeout Duration       `yaml:"activate-timeout"`
	StopTimeout     Duration       `yaml:"stop-timeout"`
	CRIU            CRIUConfig     `yaml:"criu"`
}

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

// monitorNames returns MonitorNames, or DefaultMonitorNames when it is empty.
func (t TLSFiles) monitorNames() []string {
	if len(t.MonitorNames) == 0 {
		return DefaultMonitorNames
	}
	return t.MonitorNames
}

// DefaultMonitorNames are the names `understudy certs issue --name monitor`
// and the lab (CN understudy-monitor) give the monitor's agent certificate.
var DefaultMonitorNames = []string{"monitor", "understudy-monitor"}

// IncusConfig says how to reach Incus/LXD: a unix socket, or HTTPS with a
// client certificate and the pinned server certificate.
type IncusConfig struct {
	Socket     string `yaml:"socket"`
	URL        string `yaml:"url"`
	ClientCert string `yaml:"client-cert"`
	ClientKey  string `yaml:"client-key"`
	ServerCert string `yaml:"server-cert"`
}

// CapacityConfig bounds what the agent runs at once.
type CapacityConfig struct {
	Containers int      `yaml:"containers"`
	Memory     ByteSize `yaml:"memory"`
}

// NetworkConfig makes the agent give each service a static address from a pool.
type NetworkConfig struct {
	Gateway   string `yaml:"gateway"`
	PrefixLen int    `yaml:"prefix-len"`
	Pool      string `yaml:"pool"` // FIRST-LAST, inclusive

	gateway     netip.Addr
	first, last netip.Addr
}

// CRIUConfig tunes the start-up CRIU probe.
type CRIUConfig struct {
	Path         string   `yaml:"path"`
	ProbeTimeout Duration `yaml:"probe-timeout"`
	Disable      bool     `yaml:"disable"`
}

// DefaultConfig returns the configuration with every default set.
func DefaultConfig() Config {
	return Config{
		Listen:          "127.0.0.1:9443",
		StateDir:        "/var/lib/understudy/agent",
		Capacity:        CapacityConfig{Containers: 20, Memory: 4 << 30},
		MaxParallel:     4,
		NIC:             "eth0",
		ActivateTimeout: Duration(30 * time.Second),
		CRIU:            CRIUConfig{Path: "criu", ProbeTimeout: Duration(5 * time.Second)},
	}
}

// LoadConfig reads and validates the file at path. Every error carries
// path:line:col.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	return ParseConfig(path, data)
}

// ParseConfig decodes data strictly (unknown keys are errors, with the
// closest known key suggested) and validates it. name is used in error
// messages; every error carries name:line:col and the key's path, all of
// them at once (yamlpos.Errors, wrapped with ErrInvalid).
func ParseConfig(name string, data []byte) (Config, error) {
	cfg := DefaultConfig()
	d := yamlpos.NewDecoder(name, "config")
	root, ferr := yamlpos.ReadDocument(name, data)
	if root == nil && ferr == nil {
		ferr = &yamlpos.Error{File: name, Line: 1, Col: 1, Msg: "empty config"}
	}
	if ferr != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrInvalid, yamlpos.Errors{ferr})
	}
	decodeConfig(d, root, &cfg)
	if d.ErrCount() == 0 {
		cfg.validateOn(d)
	}
	if errs := d.Errs(); errs != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrInvalid, errs)
	}
	return cfg, nil
}

// validate returns every invalid setting of a Config built in code.
func (c *Config) validate() yamlpos.Errors {
	d := yamlpos.NewDecoder("config", "config")
	c.validateOn(d)
	return d.Errs()
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
	if c.CRIU.ProbeTimeout <= 0 {
		add("must be positive", "criu", "probe-timeout")
	}
	if c.Network != nil {
		c.Network.validateWith(add)
	}
}

// validate returns the problems of a NetworkConfig built in code.
func (n *NetworkConfig) validate() yamlpos.Errors {
	d := yamlpos.NewDecoder("config", "config")
	n.validateWith(func(msg string, path ...string) { d.ErrPath(strings.Join(path, "."), "%s", msg) })
	return d.Errs()
}

func (n *NetworkConfig) validateWith(add func(msg string, path ...string)) {
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

// ByteSize is a size in bytes written as 536870912, "512MiB", "4GiB" or "1GB" in YAML.
type ByteSize int64

var byteUnits = map[string]int64{
	"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
	"KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "TIB": 1 << 40,
}

var byteSizeRE = regexp.MustCompile(`^\s*(\d+)\s*([A-Za-z]*)\s*$`)

// ParseByteSize parses "4GiB", "512MB" or plain bytes.
func ParseByteSize(s string) (int64, error) {
	m := byteSizeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q is not a size like 512MiB or 4GiB", s)
	}
	unit, ok := byteUnits[strings.ToUpper(m[2])]
	if !ok {
		return 0, fmt.Errorf("%q has an unknown unit %q", s, m[2])
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n > (1<<62)/unit {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n * unit, nil
}
