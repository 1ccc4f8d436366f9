package inventory

import (
	"net"
	"strings"
	"time"

	"github.com/understudy/understudy/internal/yamlpos"
)

// The defaults, documented in README.md's reference table.
const (
	DefaultDNSTTL        = 10 * time.Second
	DefaultDNSTimeout    = 2 * time.Second
	DefaultMonitorListen = "127.0.0.1:9180"
	DefaultStateDir      = "/var/lib/understudy"
	DefaultInterval      = time.Second
	DefaultFails         = 3
	DefaultPasses        = 2
	DefaultFlapMax       = 3
	DefaultFlapWindow    = time.Hour
	DefaultZone          = "default"
	DefaultProbeTimeout  = 10 * time.Millisecond
	DefaultHold          = 5 * time.Second
	DefaultQueue         = 1000
	DefaultPriority      = 100
	DefaultCurrency      = "USD"
	DefaultHTTPPath      = "/"
	DefaultExpectStatus  = 200
	DefaultHTTPScheme    = "http"
	DefaultMode          = ModeWarm
	DefaultFailback      = FailbackManual
	DefaultConfirm       = ConfirmAgent
	DefaultFence         = FenceHypervisor
	DefaultFenceMethod   = FenceFreeze
	// The overload defaults match package spares's.
	DefaultOverloadSteal  = 10.0
	DefaultOverloadLoad   = 1.0
	DefaultOverloadWindow = 2 * time.Minute
	DefaultMaxParallel    = 1
	// DefaultMaxParallelActivations is monitor.max-parallel-activations.
	DefaultMaxParallelActivations = 8
	DefaultLive                   = LiveNever
)

// DefaultFastInterval is monitor.fast-interval's default: the interval
// divided by fails-1, so that the fails failures of a dead target are
// spread evenly over one interval, the soonest the probe engine lets them
// make it down (monitor/probe/README.md, the fast re-probe) with the
// fewest probes; never shorter than the timeout, so that a re-probe does
// not follow a timed-out probe at once; the interval itself (off) when
// fails is 1 or 2, where a fast re-probe cannot bring the threshold
// sooner.
func DefaultFastInterval(interval, timeout time.Duration, fails int) time.Duration {
	if fails <= 2 || interval <= 0 {
		return interval
	}
	return min(max(interval/time.Duration(fails-1), timeout), interval)
}

// applyDefaults fills every optional field that was not written. A field
// written with a zero value keeps it, so validation can refuse it; required
// fields are left alone, so validation still reports them.
func (d *decoder) applyDefaults(inv *Inventory) {
	d.defDur("dns.ttl", &inv.DNS.TTL, DefaultDNSTTL)
	d.defDur("dns.timeout", &inv.DNS.Timeout, DefaultDNSTimeout)
	inv.DNS.Zone = canonicalName(inv.DNS.Zone)

	m := &inv.Monitor
	setStr(&m.Listen, DefaultMonitorListen)
	setStr(&m.StateDir, DefaultStateDir)
	d.defDur("monitor.interval", &m.Interval, DefaultInterval)
	d.defDur("monitor.timeout", &m.Timeout, m.Interval/2)
	d.defInt("monitor.fails", &m.Fails, DefaultFails)
	d.defDur("monitor.host-window", &m.HostWindow, m.Interval+m.Timeout)
	d.defDur("monitor.fast-interval", &m.FastInterval, DefaultFastInterval(m.Interval, m.Timeout, m.Fails))
	d.defInt("monitor.passes", &m.Passes, DefaultPasses)
	d.defInt("monitor.max-parallel-activations", &m.MaxParallelActivations, DefaultMaxParallelActivations)
	d.defInt("monitor.flap.max", &m.Flap.Max, DefaultFlapMax)
	d.defDur("monitor.flap.window", &m.Flap.Window, DefaultFlapWindow)

	for i := range inv.Hypervisors {
		setStr(&inv.Hypervisors[i].Zone, DefaultZone)
	}
	for i := range inv.VMs {
		setStr(&inv.VMs[i].Instance, inv.VMs[i].Name)
	}
	for i := range inv.Standby {
		setStr(&inv.Standby[i].Zone, DefaultZone)
	}
	for i := range inv.Spares {
		setStr(&inv.Spares[i].Zone, DefaultZone)
	}

	p := &inv.Proxy
	if p.Monitors == nil { // an explicit [] is an error (validate.go)
		p.Monitors = []string{m.APIURL()}
	}
	d.defDur("proxy.probe-timeout", &p.ProbeTimeout, DefaultProbeTimeout)
	d.defDur("proxy.hold", &p.Hold, DefaultHold)
	d.defInt("proxy.queue", &p.Queue, DefaultQueue)

	d.overloadDefaults(inv)
	d.defInt("migration.max-parallel", &inv.Migration.MaxParallel, DefaultMaxParallel)
	setStr((*string)(&inv.Migration.Live), string(DefaultLive))
	setStr(&inv.Cost.Currency, DefaultCurrency)

	for i := range inv.Services {
		s := &inv.Services[i]
		sp := yamlpos.Index("services", i)
		s.FQDN = canonicalName(s.FQDN)
		setStr((*string)(&s.Mode), string(DefaultMode))
		setStr((*string)(&s.Failback), string(DefaultFailback))
		d.defInt(yamlpos.Join(sp, "priority"), &s.Priority, DefaultPriority)
		setStr(&s.Confirm, DefaultConfirm)
		setStr(&s.Fence, DefaultFence)
		if s.Fence == FenceHypervisor {
			setStr(&s.FenceMethod, DefaultFenceMethod)
		}
		if !d.Has(yamlpos.Join(sp, "fence-required")) {
			// Safe by default: never fail a stateful service over unfenced.
			s.FenceRequired = s.IsStateful()
		}
		d.defDur(yamlpos.Join(sp, "probe-timeout"), &s.ProbeTimeout, p.ProbeTimeout)
		d.defDur(yamlpos.Join(sp, "hold"), &s.Hold, p.Hold)
		d.defSync(sp, s.Sync)
		if s.Sync != nil {
			d.defSyncSSH(yamlpos.Join(sp, "sync"), s.Sync)
		}
		if h := s.Check.HTTP; h != nil {
			setStr(&h.Path, DefaultHTTPPath)
			d.defInt(yamlpos.Join(sp, "check.http.expect-status"), &h.ExpectStatus, DefaultExpectStatus)
			setStr(&h.Scheme, DefaultHTTPScheme)
		}
	}
}

// canonicalName lower-cases a DNS name and adds the trailing dot.
func canonicalName(s string) string {
	if s == "" {
		return ""
	}
	s = strings.ToLower(s)
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// localAddr turns a listen address into one a local client can dial:
// an empty or unspecified host becomes 127.0.0.1.
func localAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func setStr(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

// defInt sets *p to v unless path was written.
func (d *decoder) defInt(path string, p *int, v int) {
	if !d.Has(path) {
		*p = v
	}
}

// defDur sets *p to v unless path was written.
func (d *decoder) defDur(path string, p *time.Duration, v time.Duration) {
	if !d.Has(path) {
		*p = v
	}
}

// defFloat sets *p to v unless path was written.
func (d *decoder) defFloat(path string, p *float64, v float64) {
	if !d.Has(path) {
		*p = v
	}
}
