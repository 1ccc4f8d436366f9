package probe

import (
	"crypto/tls"
	"fmt"
	"time"
)

// Kind names a probe kind; it is the key of the map Probers returns.
type Kind string

// The probe kinds. README.md documents their inputs and failure reasons.
const (
	KindICMP       Kind = "icmp"       // one echo request to Address
	KindTCP        Kind = "tcp"        // a TCP connect to Address:Port
	KindHTTP       Kind = "http"       // GET http://Address:Port/Path, expecting ExpectStatus
	KindHTTPS      Kind = "https"      // the same over TLS
	KindInstance   Kind = "instance"   // the hypervisor says the instance runs
	KindHypervisor Kind = "hypervisor" // the hypervisor's API answers and Address answers ICMP
)

// Role says what a target's result speaks for.
type Role string

// The roles of targets.
const (
	RoleHypervisor Role = "hypervisor"
	RoleVM         Role = "vm"
	RoleService    Role = "service"
)

// Timing is the schedule and hysteresis of a target.
type Timing struct {
	// Interval is the time between the starts of two probes.
	Interval time.Duration
	// Timeout bounds one probe.
	Timeout time.Duration
	// Fails is the number of consecutive failures that make an up target down.
	Fails int
	// Passes is the number of consecutive successes that make a down target up.
	Passes int
	// HostWindow is the settle window (settle.go, Options.Settle): zero
	// means interval + timeout, a negative value off.
	HostWindow time.Duration
	// FastInterval is the fast re-probe (schedule.go): while a target is
	// up and its latest probe failed, the next probe starts FastInterval
	// after the last one started instead of Interval. Zero, or Interval,
	// turns it off; it is never longer than Interval.
	FastInterval time.Duration
}

// Target is one thing probed on a schedule. Which fields a kind reads is
// documented in README.md.
type Target struct {
	// Name is unique, e.g. "service/web", "vm/web-vm/icmp", "hypervisor/host-a".
	Name string
	// Kind selects the probe.
	Kind Kind
	// Role and Entity say which hypervisor, VM or service the result is about.
	Role   Role
	Entity string
	// Address is an IP address or host name (icmp, tcp, http, https, hypervisor).
	Address string
	// Port is the TCP port (tcp, http, https).
	Port int
	// Path is the HTTP request path (http, https); empty means "/".
	Path string
	// ExpectStatus is the healthy HTTP status; 0 accepts any 2xx.
	ExpectStatus int
	// TLS configures https; nil verifies against the system roots.
	TLS *tls.Config
	// Hypervisor is the key of the hypervisor API (instance, hypervisor).
	Hypervisor string
	// Instance is the instance name on the hypervisor (instance).
	Instance string
	// Timing is the target's schedule and hysteresis.
	Timing
}

func (t Timing) validate() error {
	switch {
	case t.Interval <= 0:
		return fmt.Errorf("interval %s is not positive", t.Interval)
	case t.Timeout <= 0:
		return fmt.Errorf("timeout %s is not positive", t.Timeout)
	case t.Fails < 1 || t.Passes < 1:
		return fmt.Errorf("fails %d and passes %d must be at least 1", t.Fails, t.Passes)
	case t.FastInterval < 0 || t.FastInterval > t.Interval:
		return fmt.Errorf("fast interval %s is not from 0 (off) to the interval %s", t.FastInterval, t.Interval)
	}
	return nil
}
