package drill

import (
	"fmt"
	"time"
)

// Kind is a kind of injected failure.
type Kind string

// The inject kinds.
const (
	// VMStop force-stops the primary instance through its hypervisor.
	VMStop Kind = "vm-stop"
	// VMFreeze freezes the primary instance: nothing in it runs any more.
	VMFreeze Kind = "vm-freeze"
	// Blackhole drops the primary's traffic with iptables on its hypervisor.
	Blackhole Kind = "blackhole"
	// HostDown takes the hypervisor's bridge down, cutting all its VMs.
	HostDown Kind = "host-down"
	// ServiceStop stops the service process inside the primary instance.
	ServiceStop Kind = "service-stop"
)

// Kinds lists every inject kind, in the order the documentation gives them.
var Kinds = []Kind{VMStop, VMFreeze, Blackhole, HostDown, ServiceStop}

// ParseKind returns the Kind named s.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("inject %q (want one of %v): %w", s, Kinds, ErrUnknownKind)
}

// LabOnly reports whether the kind runs host commands that the drill only
// runs against a `lab: true` inventory.
func (k Kind) LabOnly() bool { return k == Blackhole || k == HostDown }

// Via says which client paths the load generator uses.
type Via string

// The load paths.
const (
	ViaDNS   Via = "dns"   // resolve at the authoritative server, connect to the address
	ViaProxy Via = "proxy" // send to the proxy with the service's Host header
	ViaBoth  Via = "both"
)

// ParseVia returns the Via named s.
func ParseVia(s string) (Via, error) {
	switch v := Via(s); v {
	case ViaDNS, ViaProxy, ViaBoth:
		return v, nil
	}
	return "", fmt.Errorf("via %q: want dns, proxy or both", s)
}

// Paths returns the load paths of v, DNS first.
func (v Via) Paths() []string {
	switch v {
	case ViaDNS:
		return []string{PathDNS}
	case ViaProxy:
		return []string{PathProxy}
	}
	return []string{PathDNS, PathProxy}
}

// The two client paths, as Sample.Path names them.
const (
	PathDNS   = "dns"
	PathProxy = "proxy"
)

// Verdicts.
const (
	Recovered    = "recovered"
	NotRecovered = "not-recovered"
)

// Result is the outcome of one drill. Its JSON names are read by other tools:
// keep them stable (README.md is their reference).
type Result struct {
	Service  string   `json:"service"`
	Inject   Kind     `json:"inject"`
	Via      Via      `json:"via"`
	Verdict  string   `json:"verdict"`
	Phases   Phases   `json:"phases"`
	Requests Requests `json:"requests"`

	// Started is the wall-clock time of the injection (phase 0).
	Started time.Time `json:"started"`
	// Mode is the service's standby mode (warm, cold, restore).
	Mode string `json:"mode,omitempty"`
	// Host is the drilled hypervisor when this result is one service of a
	// host drill (RunHost); empty for a drill of one service.
	Host string `json:"host,omitempty"`
	// Load is the number of concurrent clients per path.
	Load int `json:"load"`
	// RecoveryMS is when every selected path was served by the new backend
	// again, in ms from the injection; null when one never was.
	RecoveryMS *int64 `json:"recovery_ms"`
	// Incident is the monitor's incident ID, and IncidentResult its result.
	Incident       string `json:"incident,omitempty"`
	IncidentResult string `json:"incident_result,omitempty"`
	// Notes say what went wrong or was unusual (fault removal, restore, ...).
	Notes []string `json:"notes,omitempty"`
	// Restored is true when --restore returned the service to its primary.
	Restored bool `json:"restored,omitempty"`
	// Marker is what --marker showed; nil without it.
	Marker *MarkerResult `json:"marker,omitempty"`
	// Failures are the failed requests, each labelled with when it
	// happened (before the injection, during the outage, after its path
	// recovered) and its kind of error.
	Failures []Failure `json:"failures,omitempty"`

	// Samples are every request of the load generator; not part of the JSON.
	Samples []Sample `json:"-"`
	// End is the last moment the timeline covers, in ms from the injection.
	EndMS int64 `json:"-"`
}

// Phases are milliseconds from the injection; nil (null) when a phase did
// not happen. The first eight names are the stable contract; the others
// add detail.
type Phases struct {
	Detected   *int64 `json:"detected"`
	Confirmed  *int64 `json:"confirmed"`
	Fenced     *int64 `json:"fenced"`
	Activated  *int64 `json:"activated"`
	Healthy    *int64 `json:"healthy"`
	DNSFlipped *int64 `json:"dns_flipped"`
	// DNSVerified is when every dns.verify server answered the new address
	// (the monitor's dns-verified phase); absent without dns.verify.
	DNSVerified       *int64 `json:"dns_verified,omitempty"`
	FirstSuccessDNS   *int64 `json:"first_success_dns"`
	FirstSuccessProxy *int64 `json:"first_success_proxy"`

	// FaultInPlace is when the injector returned (a force-stop takes a while).
	FaultInPlace *int64 `json:"fault_in_place"`
	// ActivationStarted is when the monitor asked the agent to activate.
	ActivationStarted *int64 `json:"activation_started"`
	// OnStandby is when the monitor closed the incident on the standby.
	OnStandby *int64 `json:"on_standby"`
	// FenceStop is when the background force-stop of the primary the
	// fence froze ended (fence-method freeze); absent with a stop fence.
	FenceStop *int64 `json:"fence_stop,omitempty"`
	// FaultRemoved is when the drill removed the fault again.
	FaultRemoved *int64 `json:"fault_removed"`
}

// PathCount is the requests of one path. Failed counts them all; the
// other two are the part of Failed that the outage did not cause: requests
// that ended before the injection, and requests that started after the path
// was first served by the new backend (see Result.Failures for each).
type PathCount struct {
	OK                  int `json:"ok"`
	Failed              int `json:"failed"`
	FailedBefore        int `json:"failed_before_injection"`
	FailedAfterRecovery int `json:"failed_after_recovery"`
}

// Requests counts the load generator's requests per path, over the whole
// drill (the warm-up before the injection included).
type Requests struct {
	DNS   PathCount `json:"dns"`
	Proxy PathCount `json:"proxy"`
}

// Sample is one request of the load generator.
type Sample struct {
	Path     string        // PathDNS or PathProxy
	Client   int           // the client (0..load-1) that sent it
	Start    time.Time     // when the request started (DNS lookup included)
	Duration time.Duration // until the answer or the error
	OK       bool          // the expected status arrived
	Addr     string        // the address connected to (DNS path), or the proxy
	Backend  string        // the answer's body, trimmed: which copy answered
	Err      string        // why it failed
	New      bool          // a success from the new backend (set by the analysis)
}

// ms returns a pointer to the milliseconds between t0 and t, or nil when t is zero.
func ms(t0, t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	v := t.Sub(t0).Milliseconds()
	return &v
}
