package drill

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"time"
)

// Config is one drill: which service, which fault, how much load.
type Config struct {
	// Service is the service's name, FQDN its DNS name, Mode its standby mode.
	Service, FQDN, Mode string
	// Port is the service's TCP port.
	Port int
	// CheckPath is the HTTP path to GET, ExpectStatus the healthy status
	// (defaults "/" and 200). TCPCheck makes the preflight only connect.
	CheckPath    string
	ExpectStatus int
	TCPCheck     bool
	// Primary is the instance and address the fault hits.
	Primary Target
	// Kind is the fault; Via the client paths; Clients the clients per path.
	Kind    Kind
	Via     Via
	Clients int
	// ProxyAddr is the proxy's host:port (needed with Via proxy or both).
	ProxyAddr string
	// Load tunes the load generator beyond the fields above (optional).
	Load LoadConfig
	// Timeout bounds the wait for recovery after the injection (default 60s).
	Timeout time.Duration
	// Warmup is the load before the injection (default 1s), Tail the load
	// after recovery (default 1s).
	Warmup, Tail time.Duration
	// Poll is the pause between two looks at the monitor (default 100ms).
	Poll time.Duration
	// Marker, when set, is a path inside the primary the drill writes a
	// marker file to before the injection (--marker, DefaultMarkerPath);
	// it waits up to MarkerWait (default 2m) for the monitor to report a
	// sync begun after the write, and reports whether the standby served
	// it (Result.Marker). The path is asked over HTTP with its /var/www
	// prefix taken off (the busybox image's web root).
	Marker     string
	MarkerWait time.Duration
	// Restore returns the service to its primary after the drill.
	Restore bool
	// RestoreTimeout bounds the restore (default 90s).
	RestoreTimeout time.Duration
	// RestoreSettle is how long the restarted primary must answer every
	// check in a row before the restore asks the monitor to reset the
	// service (default 2s): a primary that answers once and then stalls
	// for a moment, as a container just started can, would be failed over
	// again by the monitor right after the reset.
	RestoreSettle time.Duration
	// Lab is the inventory's `lab: true`; Yes the operator's --yes.
	Lab, Yes bool
	// Neighbours are the other services whose primaries run on the drilled
	// primary's hypervisor. A host-down fault fails them all over too, a
	// fault of the VM (vm-stop, vm-freeze, blackhole) those on the same VM,
	// and --restore brings every one of them home, not only Service.
	Neighbours []Neighbour
}

// Neighbour is another service on the drilled primary's hypervisor, with
// what --restore needs to bring it home.
type Neighbour struct {
	// Service is its name, FQDN its DNS name.
	Service, FQDN string
	// Primary is its primary instance and address, Port its TCP port.
	Primary Target
	Port    int
	// CheckPath, ExpectStatus and TCPCheck are its check, as in Config.
	CheckPath    string
	ExpectStatus int
	TCPCheck     bool
	// SameVM is true when it runs on the drilled primary's VM, which a
	// vm-stop, vm-freeze or blackhole takes down with every service on it.
	SameVM bool
}

func (c Config) withDefaults() Config {
	if c.CheckPath == "" {
		c.CheckPath = "/"
	}
	if c.ExpectStatus == 0 {
		c.ExpectStatus = 200
	}
	if c.Via == "" {
		c.Via = ViaDNS
	}
	if c.Clients <= 0 {
		c.Clients = 10
	}
	if c.Timeout <= 0 {
		c.Timeout = 60 * time.Second
	}
	if c.Warmup <= 0 {
		c.Warmup = time.Second
	}
	if c.Tail <= 0 {
		c.Tail = time.Second
	}
	if c.Poll <= 0 {
		c.Poll = 100 * time.Millisecond
	}
	if c.RestoreTimeout <= 0 {
		c.RestoreTimeout = 90 * time.Second
	}
	if c.MarkerWait <= 0 {
		c.MarkerWait = 2 * time.Minute
	}
	if c.RestoreSettle <= 0 {
		c.RestoreSettle = 2 * time.Second
	}
	return c
}

// loadConfig is the load generator's configuration for this drill.
func (c Config) loadConfig() LoadConfig {
	l := c.Load
	l.Clients, l.Paths, l.FQDN, l.Port = c.Clients, c.Via.Paths(), c.FQDN, c.Port
	l.URLPath, l.ExpectStatus, l.ProxyAddr = c.CheckPath, c.ExpectStatus, c.ProxyAddr
	if l.MaxDuration <= 0 {
		l.MaxDuration = c.Warmup + c.Timeout + c.Tail + 10*time.Second
	}
	if l.ProxyTimeout <= 0 {
		// The proxy holds a service's requests for as long as its
		// failover runs (the placement's failing_over): a held request
		// is a delay, not an error, for as long as the drill waits for
		// the recovery.
		l.ProxyTimeout = max(c.Timeout, 10*time.Second)
	}
	return l
}

// touched returns the configurations of every service the fault fails
// over: the drilled one first, then the neighbours it takes down too:
// every one for a host-down, those on the same VM for a fault of the VM,
// none for a service-stop.
func (c Config) touched() []Config {
	out := []Config{c}
	for _, n := range c.Neighbours {
		if !c.Kind.downs(n) {
			continue
		}
		o := c
		o.Service, o.FQDN, o.Primary, o.Port = n.Service, n.FQDN, n.Primary, n.Port
		o.CheckPath, o.ExpectStatus, o.TCPCheck = n.CheckPath, n.ExpectStatus, n.TCPCheck
		o.Neighbours = nil
		out = append(out, o.withDefaults())
	}
	return out
}

// downs reports whether a fault of kind k takes the neighbour n down too.
func (k Kind) downs(n Neighbour) bool {
	switch k {
	case HostDown:
		return true
	case VMStop, VMFreeze, Blackhole:
		return n.SameVM
	}
	return false
}

// primaryURL is the primary's check URL.
func (c Config) primaryURL() string {
	return "http://" + net.JoinHostPort(c.Primary.Address.String(), strconv.Itoa(c.Port)) + c.CheckPath
}

// Agent is what the drill needs from the service's standby agent.
type Agent interface {
	// Ready returns nil when the agent reports itself ready (GET /v1/health).
	Ready(ctx context.Context) error
}

// Deps are the drill's collaborators.
type Deps struct {
	Monitor Monitor
	Agent   Agent
	// DNS resolves at the authoritative server (load and preflight).
	DNS Resolver
	// Fault is the fault to inject (see NewFault).
	Fault Fault
	// Hypervisor starts the primary again on --restore.
	Hypervisor Hypervisor
	// Marker writes the --marker file into the primary (LXDMarker).
	Marker MarkerWriter
	// Log receives progress; nil discards it.
	Log *slog.Logger
}

// CheckSafety refuses a fault the inventory does not allow: lab-only kinds
// outside a `lab: true` inventory, and any kind there without yes (--yes).
func CheckSafety(kind Kind, lab, yes bool) error {
	if kind.LabOnly() && !lab {
		return fmt.Errorf("inject %s runs iptables or ip link on this machine: %w", kind, ErrLabOnly)
	}
	if !lab && !yes {
		return ErrNotConfirmed
	}
	return nil
}

// checkSafety refuses what the inventory does not allow.
func checkSafety(cfg Config) error {
	if err := CheckSafety(cfg.Kind, cfg.Lab, cfg.Yes); err != nil {
		return err
	}
	if !cfg.Primary.Address.IsValid() {
		return fmt.Errorf("service %q: no primary address", cfg.Service)
	}
	return nil
}

// equalAddrs reports whether got is exactly [want].
func equalAddrs(got []netip.Addr, want netip.Addr) bool {
	return len(got) == 1 && got[0] == want
}
