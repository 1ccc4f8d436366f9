package inventory

import (
	"time"

	"github.com/understudy/understudy/internal/yamlpos"
)

// Inventory is a whole, validated inventory file. Every field holds its value
// after defaults were applied; see README.md for the key reference.
type Inventory struct {
	// Lab marks an inventory that describes the throw-away lab, where the
	// drill may inject failures without asking for confirmation.
	Lab bool
	// DNS is the authoritative zone the services' names live in.
	DNS DNS
	// Monitor holds the monitor daemon's settings.
	Monitor Monitor
	// Hypervisors are the hosts the primary VMs run on.
	Hypervisors []Hypervisor
	// VMs are the primary VMs that run the protected services.
	VMs []VM
	// Standby are the shared standby VMs, each running a standby agent.
	Standby []Standby
	// Spares are dedicated VMs that services migrate to after a failover.
	Spares []Spare
	// Proxy holds the reverse proxy's settings.
	Proxy Proxy
	// Migration holds the settings of migrations from the standby VMs to
	// spares.
	Migration Migration
	// Services are the protected services.
	Services []Service
	// Cost, optional, is what a VM costs, for `understudy plan`'s cost
	// comparison; zero when the inventory gives no price.
	Cost Cost

	// name is the file name as given to Load or Parse; file is its absolute path.
	name, file string
	// pos records where each field path was written, for errors found later.
	pos map[string]yamlpos.Position
	// warnings are what Load found that does not make the inventory invalid.
	warnings Errors
}

// Warnings are the problems Load found that do not make the inventory
// invalid but that something reading it will refuse or regret (a TSIG key
// file others may read), each naming file:line:col and the field. Sorted by
// position; nil when there are none.
func (inv *Inventory) Warnings() []*FieldError {
	return inv.warnings
}

// DNS is the zone whose records understudy flips, and how to reach its primary.
type DNS struct {
	// Server is the authoritative primary accepting RFC 2136 updates, host:port.
	Server string
	// Zone is the zone name, fully qualified with its trailing dot, lower case.
	Zone string
	// TSIGKeyFile is the absolute path of a BIND key file (as tsig-keygen writes it).
	TSIGKeyFile string
	// TTL is the TTL written with every record, a whole number of seconds.
	TTL time.Duration
	// Verify lists secondaries (host:port) that must serve a change before it counts.
	Verify []string
	// Timeout bounds one DNS exchange.
	Timeout time.Duration
}

// Monitor holds the monitor daemon's settings.
type Monitor struct {
	// Listen is the monitor's HTTP address (metrics, status, API), host:port.
	Listen string
	// StateDir holds the embedded etcd and other state, an absolute path.
	StateDir string
	// Interval is the time between two probes of one target.
	Interval time.Duration
	// Timeout bounds one probe; it is shorter than Interval.
	Timeout time.Duration
	// Fails is the number of consecutive failures before a target is down.
	Fails int
	// Passes is the number of consecutive successes before it is up again.
	Passes int
	// HostWindow is how long a VM's or service's failure waits for the
	// other failures of its hypervisor, so that one confirmation round and
	// one event cover a host's loss (default Interval + Timeout, the spread
	// of one host's death over the targets' schedules). A failure on an
	// otherwise quiet hypervisor skips it; 0 (written as 0s) confirms each
	// finding at once.
	HostWindow time.Duration
	// FastInterval is the fast re-probe: while a target is up and its
	// latest probe failed, its next probe starts FastInterval after the
	// last one started instead of Interval, so that Fails failures take
	// about one interval (the failure that makes it down still comes no
	// sooner than one interval after the first). Default
	// DefaultFastInterval(Interval, Timeout, Fails); 0 (written as 0s) or
	// Interval turns it off; at most Interval.
	FastInterval time.Duration
	// MaxParallelActivations bounds the standby activations that run at
	// once (default 8): a host that fails with many services starts their
	// containers this many at a time; the rest wait for a slot.
	MaxParallelActivations int
	// AgentTLS is the client certificate the monitor presents to standby agents
	// and the CA it trusts them with. All three files or none.
	AgentTLS TLSFiles
	// APITLS, when set, turns on mutual TLS on the monitor's API: HTTPS only,
	// a verified client certificate on every endpoint. Cert and Key are the
	// monitor's server certificate, also presented as its client
	// certificate to the other monitors (so it carries both usages); CA
	// signs the client certificates the API accepts and verifies the other
	// monitors. All three files or none; all monitors of one inventory
	// share it.
	APITLS TLSFiles
	// APIClientTLS is the certificate the monitor API's clients present
	// (understudy status, migrate, failback, drill, the proxy) and the CA
	// they verify the monitor with. All three files or none, and only with
	// APITLS; when it is absent, clients use APITLS's files (a client on the
	// monitor's host). See ClientTLS.
	APIClientTLS TLSFiles
	// APITokenFile, for an API without APITLS, names a file (readable by
	// its owner only) whose content is the bearer token every mutating call
	// (POST) must carry: "Authorization: Bearer TOKEN". Its clients (the
	// commands, the drill, the proxy, the other monitors) read the same
	// file. Not with APITLS, where the client certificate is the credential.
	APITokenFile string
	// InsecureAPI lets the API listen on an address other than loopback
	// without APITLS (plain HTTP, readable and forgeable on the network).
	// Without it such an inventory is invalid and the monitor refuses to
	// start.
	InsecureAPI bool
	// Etcd, when set, points at an external etcd cluster instead of the embedded one.
	Etcd *Etcd
	// Flap is the flap-damping policy.
	Flap Flap
	// AlertURL, optional, is the webhook (http or https) that receives
	// alerts as JSON POSTs with an Idempotency-Key: an incident stuck, a
	// failover without a confirmed fence, a service left unprotected by
	// flap damping. Notify steps without a url use it too. It may carry a
	// token, so it is never logged.
	AlertURL string
}

// APIScheme is the scheme of the monitor's API: https with APITLS, else http.
func (m Monitor) APIScheme() string {
	if m.APITLS.IsZero() {
		return "http"
	}
	return "https"
}

// APIURL is the base URL a client on this machine reaches the monitor's API
// at: APIScheme and Listen, an empty or unspecified host becoming 127.0.0.1.
func (m Monitor) APIURL() string { return m.APIScheme() + "://" + localAddr(m.Listen) }

// ClientTLS is what a client of the monitor's API presents and trusts:
// APIClientTLS, else APITLS; zero when the API is plain HTTP.
func (m Monitor) ClientTLS() TLSFiles {
	if !m.APIClientTLS.IsZero() {
		return m.APIClientTLS
	}
	return m.APITLS
}

// TLSFiles names PEM files for mutual TLS. YAML keys: ca, cert, key.
type TLSFiles struct {
	// CA is the CA certificate that signs the peer's certificate.
	CA string
	// Cert is this side's certificate.
	Cert string
	// Key is this side's private key.
	Key string
}

// IsZero reports whether no file is set.
func (t TLSFiles) IsZero() bool { return t.CA == "" && t.Cert == "" && t.Key == "" }

// Etcd points at an external etcd cluster.
type Etcd struct {
	// Endpoints are the cluster's client URLs.
	Endpoints []string
	// TLS is the client's TLS configuration, optional.
	TLS TLSFiles
}

// Flap is the flap-damping policy: a service that failed over and back more
// than Max times within Window stays where it is and raises an alert.
type Flap struct {
	// Max is the number of fail-overs allowed within Window.
	Max int
	// Window is the sliding window the fail-overs are counted in.
	Window time.Duration
}

// Incus says how to reach an Incus or LXD daemon: exactly one of Socket or URL.
type Incus struct {
	// Socket is the absolute path of the daemon's unix socket.
	Socket string
	// URL is the daemon's https:// address.
	URL string
	// ClientCert and ClientKey authenticate understudy to the daemon (with URL).
	ClientCert, ClientKey string
	// ServerCert pins the daemon's certificate (required with URL: the
	// connection refuses to work without it).
	ServerCert string
}

// Hypervisor is a host that runs primary VMs.
type Hypervisor struct {
	// Name is unique among hypervisors.
	Name string
	// Address is the host's IP address, probed for liveness.
	Address string
	// Zone is the failure zone (availability zone, rack, room).
	Zone string
	// Incus is how to reach the host's Incus/LXD API.
	Incus Incus
}

// VM is a primary VM running protected services.
type VM struct {
	// Name is unique among VMs.
	Name string
	// Hypervisor names the Hypervisor the VM runs on.
	Hypervisor string
	// Instance is the instance name on the hypervisor; it defaults to Name.
	Instance string
	// Address is the VM's IP address.
	Address string
}

// Capacity is what a standby or spare VM can hold.
type Capacity struct {
	// Containers is the number of service containers it can hold.
	Containers int
	// Memory is its memory for service containers, in bytes.
	Memory int64
}

// Cost is the price of one VM, for the cost comparison of `understudy plan`.
// YAML keys: vm-month, currency.
type Cost struct {
	// VMMonth is the price of one VM for a month, in Currency; 0 when
	// not given.
	VMMonth float64
	// Currency labels VMMonth (default USD).
	Currency string
}

// Standby is a shared standby VM running the standby agent.
type Standby struct {
	// Name is unique among standby VMs.
	Name string
	// Agent is the agent's https:// URL.
	Agent string
	// Zone is the standby VM's failure zone.
	Zone string
	// Capacity must hold every service assigned to this standby.
	Capacity Capacity
	// Incus, optional, is how the monitor reaches the standby VM's
	// Incus/LXD to copy a container to a spare; without it the standby's
	// services cannot migrate.
	Incus Incus
	// Network, optional, is the agent's static address pool (the agent's
	// own network setting, repeated here): an address the agent returns
	// from an activation must lie in Pool before it goes to DNS.
	Network *Network
	// Overload, optional, is this standby VM's own overload trigger; a key
	// it leaves out takes migration.overload's. Use OverloadOf.
	Overload *Overload
}

// Spare is a dedicated VM that services migrate to after a failover.
type Spare struct {
	// Name is unique among spares.
	Name string
	// Zone is the spare's failure zone; migration prefers the primary's zone.
	Zone string
	// Agent, optional, is the https:// URL of an agent on the spare that
	// answers GET /v1/capacity (an `understudy agent` with no services);
	// spare ranking orders spares by its CPU steal and load. Without it they are
	// unknown.
	Agent string
	// Incus is how to reach the spare's Incus/LXD API.
	Incus Incus
	// Capacity is what the spare can hold; zero means unknown.
	Capacity Capacity
	// Network, optional, gives the copies on this spare static addresses
	// (the container config environment.IPADDR and environment.GATEWAY);
	// without it a copy keeps the address config it had.
	Network *Network
}

// Network is a static address pool on a bridge.
type Network struct {
	// Gateway is the bridge's address, the copies' default route.
	Gateway string
	// PrefixLen is the subnet's prefix length.
	PrefixLen int
	// Pool is the inclusive range "FIRST-LAST" the copies' addresses come from.
	Pool string
}

// Hook is a webhook (URL: POSTed the incident) or a command (argv, run
// with the service's variables); exactly one is set.
type Hook struct {
	URL     string
	Command []string
}

// Migration holds the settings of migrations to spares.
type Migration struct {
	// TargetMaxSteal is the steal ceiling of a migration's target, in
	// percent: a measured spare above it is not eligible.
	TargetMaxSteal float64
	// Overload is when a standby VM counts as overloaded, which migrates
	// one of its services (the lowest priority first) to a spare.
	Overload Overload
	// Bandwidth caps each copy to a spare, in bytes per second (written in
	// bits: 100Mbit); 0: no cap.
	Bandwidth int64
	// MaxParallel is the most migrations running at once (default 1): a
	// burst of migrations at peak time would flood the network.
	MaxParallel int
	// Live says whether a migration to a spare copies the running state
	// (CRIU): LiveAuto when both ends' standby agents report CRIU working,
	// falling back to stop-copy-start; LiveNever (the default) always
	// stop-copy-start.
	Live LiveMode
}

// LiveMode is the migration.live policy.
type LiveMode string

// The live-migration policies.
const (
	// LiveNever always migrates by stop-copy-start.
	LiveNever LiveMode = "never"
	// LiveAuto migrates live where both ends' CRIU works.
	LiveAuto LiveMode = "auto"
)

// Overload says when a standby VM is overloaded: its Trigger's condition
// without a break for Window (README.md, migration.overload).
type Overload struct {
	// Enabled turns the automatic migration off an overloaded standby on.
	Enabled bool
	// Trigger is TriggerStealAndLoad (the default), TriggerLoad or
	// TriggerMemory.
	Trigger string
	// Steal is the CPU steal threshold, in percent (0-100].
	Steal float64
	// Load is the 1-minute load average threshold, per CPU.
	Load float64
	// CPU is the load trigger's threshold: CPU use in percent of the VM's CPUs.
	CPU float64
	// Memory is the memory trigger's threshold: memory in use, in percent.
	Memory float64
	// Hysteresis is the fraction of the threshold a fired trigger must fall
	// under to clear, in [0, 1).
	Hysteresis float64
	// Window is how long the condition must hold.
	Window time.Duration
	// CoolDown is the least time between two automatic moves off one
	// standby VM.
	CoolDown time.Duration
}

// The overload triggers (migration.overload.trigger).
const (
	TriggerStealAndLoad = "steal-and-load"
	TriggerLoad         = "load"
	TriggerMemory       = "memory"
)

// Proxy holds the reverse proxy's settings.
type Proxy struct {
	// Listen is the proxy's HTTP address, host:port; empty when no proxy runs.
	Listen string
	// Monitors are the base URLs of the monitors the proxy streams
	// placements from and reports to, tried in turn (several monitors,
	// package ha); in YAML one URL or a list.
	Monitors []string
	// ProbeTimeout is the default per-request ICMP probe timeout.
	ProbeTimeout time.Duration
	// Hold is the default longest time a request is held during a relocation.
	Hold time.Duration
	// Queue is the most requests held per service; more get 503.
	Queue int
}

// Service is one protected service.
type Service struct {
	// Name is unique among services.
	Name string
	// FQDN is the service's DNS name inside the zone, with its trailing dot, lower case.
	FQDN string
	// VM names the primary VM the service runs on.
	VM string
	// Port is the TCP port the service listens on.
	Port int
	// Check is how the service's health is probed.
	Check Check
	// Standby names the standby VM that holds the service's container.
	Standby string
	// Mode is how the container waits on the standby VM.
	Mode Mode
	// Role groups services for anti-affinity on spares; optional.
	Role string
	// Failback says whether the service returns to its primary by itself.
	Failback Failback
	// Priority weighs the service's share of a busy standby VM (1–1000).
	Priority int
	// Confirm is "agent" (the standby agent must confirm the failure) or "none".
	Confirm string
	// Fence is "hypervisor", "command" or "none".
	Fence string
	// FenceCommand is the operator command run when Fence is "command".
	FenceCommand []string
	// FenceMethod is how a hypervisor fence stops the primary: "freeze"
	// (the default: the instance is frozen, which stops it serving and
	// writing in milliseconds, and force-stopped in the background once DNS
	// points at the standby) or "stop" (a force-stop before the failover
	// goes on). Only used with Fence "hypervisor".
	FenceMethod string
	// FenceRequired stops the incident when the fence cannot be confirmed.
	// It defaults to true for stateful services (Stateful or a data disk):
	// an unfenced failover of those is split brain. See IsStateful.
	FenceRequired bool
	// Stateful marks a service whose data must never have two writers,
	// also without a data disk (a replicated database, a queue).
	Stateful bool
	// Playbook is the absolute path of a custom playbook file; empty for the default.
	Playbook string
	// ProbeTimeout is the proxy's per-request probe timeout for this service.
	ProbeTimeout time.Duration
	// Hold is the proxy's longest hold for this service.
	Hold time.Duration
	// ProxyReroute (proxy-reroute) is RerouteOff (the default) or
	// RerouteWarm: a proxy that cannot reach the primary while the
	// monitor still sees it up sends its requests to the warm standby
	// container, without a DNS flip or an incident. Warm mode only.
	ProxyReroute Reroute
	// MaxOnStandby triggers a migration after this long on standby; 0 never.
	MaxOnStandby time.Duration
	// Pinned keeps the service on its standby when the standby is
	// overloaded: the overload trigger moves others.
	Pinned bool
	// Drain, optional, runs before a move's hold and copy (take the
	// service out of its service discovery); Undrain after the release.
	Drain   *Hook
	Undrain *Hook
	// Container describes the service's container on standby and spare VMs.
	Container Container
	// Sync, when set, copies the service's content from the primary into
	// its standby container on a schedule (sync.go).
	Sync *Sync
}

// Check is a service health check: exactly one of HTTP or TCP is set.
type Check struct {
	// HTTP checks for an expected HTTP status.
	HTTP *HTTPCheck
	// TCP checks that the port accepts a connection.
	TCP *TCPCheck
}

// HTTPCheck is an HTTP(S) GET expecting one status code.
type HTTPCheck struct {
	// Path is the request path, starting with "/".
	Path string
	// ExpectStatus is the status code that means healthy.
	ExpectStatus int
	// Scheme is "http" or "https".
	Scheme string
}

// IsStateful reports whether the service keeps state that two running
// copies would corrupt: stateful: true, or a data disk.
func (s Service) IsStateful() bool { return s.Stateful || s.Container.DataDisk != nil }

// TCPCheck is a TCP connect to the service port.
type TCPCheck struct{}

// Reroute is the proxy-reroute policy of a service.
type Reroute string

// The proxy-reroute values.
const (
	// RerouteOff: a proxy that cannot reach the primary holds requests.
	RerouteOff Reroute = "off"
	// RerouteWarm: it sends them to the warm standby container meanwhile.
	RerouteWarm Reroute = "warm"
)

// Mode is how a service's container waits on the standby VM.
type Mode string

// The modes a service may declare.
const (
	// ModeWarm keeps the container running.
	ModeWarm Mode = "warm"
	// ModeCold keeps the container created and stopped.
	ModeCold Mode = "cold"
	// ModeRestore keeps a checkpoint to restore (a cold start without CRIU).
	ModeRestore Mode = "restore"
)

// Failback says whether a service returns to its primary by itself.
type Failback string

// The failback policies a service may declare.
const (
	// FailbackManual waits for an operator.
	FailbackManual Failback = "manual"
	// FailbackAuto returns once the primary was healthy for the hold-down period.
	FailbackAuto Failback = "auto"
)

// Values of Service.Confirm and Service.Fence.
const (
	ConfirmAgent    = "agent"
	ConfirmNone     = "none"
	FenceHypervisor = "hypervisor"
	FenceCommand    = "command"
	FenceNone       = "none"
)

// Values of Service.FenceMethod.
const (
	FenceFreeze = "freeze"
	FenceStop   = "stop"
)

// Container describes a service's container.
type Container struct {
	// Image is the image alias (or fingerprint) the container is created from.
	Image string
	// Limits are the container's resource limits.
	Limits Limits
	// Config holds extra Incus instance config keys.
	Config map[string]string
	// DataDisk, when set, attaches a shared data disk.
	DataDisk *DataDisk
}

// Limits are a container's resource limits.
type Limits struct {
	// CPU is the number of CPUs; 0 means no limit.
	CPU int
	// Memory is the memory limit in bytes.
	Memory int64
}

// DataDisk is a disk shared with the primary (for example an NFS or Ceph mount).
type DataDisk struct {
	// Source is the disk's source on the standby or spare host.
	Source string
	// Path is the absolute mount path inside the container.
	Path string
}
