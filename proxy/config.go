package proxy

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/understudy/understudy/inventory"
)

// Defaults applied by New to zero fields of Config and Service.
const (
	DefaultProbeTimeout = 10 * time.Millisecond
	DefaultProbeFloor   = 2 * time.Millisecond
	DefaultHold         = 5 * time.Second
	DefaultQueue        = 1000
	DefaultDialTimeout  = time.Second
	DefaultRecheck      = 20 * time.Millisecond
	DefaultProbeFresh   = 2 * time.Millisecond
	DefaultBodyTimeout  = 30 * time.Second
)

// Config is what the proxy serves. New copies it; later changes have no
// effect.
type Config struct {
	// Services are the routes; each is reached by its Host name.
	Services []Service
	// Queue is the most requests held per service at once.
	Queue int
	// DialTimeout bounds one TCP connect to a backend.
	DialTimeout time.Duration
	// Recheck is how often a suspect backend is probed again during a hold
	// to detect a blip (the same backend answering again).
	Recheck time.Duration
	// ProbeFresh: GET, HEAD, OPTIONS and TRACE requests are forwarded
	// while their probe runs alongside (a miss cancels and retries them);
	// they start no new probe when one was answered less than ProbeFresh
	// ago. Negative: a probe per request (shared while in flight). Other
	// methods always wait for a probe before being sent.
	ProbeFresh time.Duration
	// ProbeFloor is the shortest a probe's first echo waits: its timeout
	// adapts to the backend's observed RTTs (SRTT + 4·RTTVAR, RFC 6298)
	// between ProbeFloor and the service's ProbeTimeout, which also bounds
	// the echo that confirms a miss. Default DefaultProbeFloor.
	ProbeFloor time.Duration
	// HeldMax is the longest the proxy honours a placement's Held flag
	// (a migration or failback under way) or FailingOver flag (a failover
	// under way): past it, requests go to the placement's address again,
	// so that a monitor that died mid-move cannot keep a service held.
	// Under Held each request still waits at most its service's Hold;
	// under FailingOver HeldMax alone bounds the wait. Default
	// DefaultHeldMax; negative: no limit.
	HeldMax time.Duration
	// BodyTimeout is the longest a client may send none of its request
	// body while the proxy reads it: past it the request is cut with 408
	// (a body trickled byte by byte would hold a connection to the
	// backend). It bounds each wait for more of the body, not the whole
	// upload. Default DefaultBodyTimeout; negative: no bound.
	BodyTimeout time.Duration
	// Name is the proxy's name in its reroute reports to the monitor.
	// Default: the host name.
	Name string
	// StandbyRefresh is how often the proxy asks the monitor for the
	// standby containers' addresses when a service has Reroute. Default
	// DefaultStandbyRefresh.
	StandbyRefresh time.Duration
}

// Service is one route.
type Service struct {
	// Name is the service's name, as the placements name it.
	Name string
	// Host is the name clients send in the Host header: the service's FQDN
	// without its trailing dot, lower case. Requests may add a port.
	Host string
	// Port is the backend's TCP port.
	Port int
	// ProbeTimeout caps the per-request ICMP probe's adaptive timeout and
	// is the wait of the echo that confirms a miss.
	ProbeTimeout time.Duration
	// Hold is the longest one request is held.
	Hold time.Duration
	// Reroute (inventory proxy-reroute: warm): while the proxy's own
	// probes cannot reach the primary, its requests go to the warm
	// standby container whose address the monitor gives (StandbyLister),
	// without a DNS flip or an incident, and back once the primary
	// answers again (reroute.go).
	Reroute bool
}

// FromInventory builds the proxy's Config from a validated inventory.
func FromInventory(inv *inventory.Inventory) Config {
	cfg := Config{Queue: inv.Proxy.Queue}
	for _, s := range inv.Services {
		cfg.Services = append(cfg.Services, Service{
			Name:         s.Name,
			Host:         strings.TrimSuffix(strings.ToLower(s.FQDN), "."),
			Port:         s.Port,
			ProbeTimeout: s.ProbeTimeout,
			Hold:         s.Hold,
			Reroute:      s.ProxyReroute == inventory.RerouteWarm,
		})
	}
	return cfg
}

// withDefaults returns cfg with zero fields set and every service checked.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.Recheck <= 0 {
		cfg.Recheck = DefaultRecheck
	}
	if cfg.ProbeFresh == 0 {
		cfg.ProbeFresh = DefaultProbeFresh
	}
	if cfg.ProbeFloor <= 0 {
		cfg.ProbeFloor = DefaultProbeFloor
	}
	if cfg.BodyTimeout == 0 {
		cfg.BodyTimeout = DefaultBodyTimeout
	}
	if cfg.Name == "" {
		cfg.Name, _ = os.Hostname()
	}
	if cfg.StandbyRefresh <= 0 {
		cfg.StandbyRefresh = DefaultStandbyRefresh
	}
	switch {
	case cfg.HeldMax == 0:
		cfg.HeldMax = DefaultHeldMax
	case cfg.HeldMax < 0:
		cfg.HeldMax = 0 // no limit
	}
	svcs := make([]Service, len(cfg.Services))
	seenName, seenHost := map[string]bool{}, map[string]bool{}
	for i, s := range cfg.Services {
		s.Host = canonicalHost(s.Host)
		switch {
		case s.Name == "" || s.Host == "":
			return cfg, fmt.Errorf("service %d: name and host are required", i)
		case s.Port <= 0 || s.Port > 65535:
			return cfg, fmt.Errorf("service %q: port %d out of range", s.Name, s.Port)
		case seenName[s.Name]:
			return cfg, fmt.Errorf("service %q: listed twice", s.Name)
		case seenHost[s.Host]:
			return cfg, fmt.Errorf("service %q: host %q already routes to another service", s.Name, s.Host)
		}
		seenName[s.Name], seenHost[s.Host] = true, true
		if s.ProbeTimeout <= 0 {
			s.ProbeTimeout = DefaultProbeTimeout
		}
		if s.Hold <= 0 {
			s.Hold = DefaultHold
		}
		svcs[i] = s
	}
	cfg.Services = svcs
	return cfg, nil
}

// canonicalHost lower-cases a Host header value and strips its port and a
// trailing dot, so "Web.Lab.Test.:8080" becomes "web.lab.test".
func canonicalHost(h string) string {
	h = strings.ToLower(h)
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	return strings.TrimSuffix(h, ".")
}
