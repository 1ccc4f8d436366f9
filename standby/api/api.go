// Package api holds the wire types of the standby agent's HTTP API: the
// request and response bodies of every endpoint and the error body, with
// the checks a spec must pass (ServiceSpec.Validate, CheckConfig). The agent
// (package standby: its server and the client the monitor uses) imports
// them, so the JSON has one definition, as monitor/api is the monitor's.
// It holds no behaviour beyond those checks and does no I/O.
package api

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/standby/fairshare"
)

// ErrInvalid: the request is malformed or the spec is invalid (400); the
// agent's sentinel standby.ErrInvalid.
var ErrInvalid = errors.New("invalid request")

// Mode is how a service's container waits on the standby VM.
type Mode string

// The preparation modes.
const (
	// ModeWarm keeps the container running; activation only checks it.
	ModeWarm Mode = "warm"
	// ModeCold keeps the container created and stopped; activation starts it.
	ModeCold Mode = "cold"
	// ModeRestore keeps a checkpoint; activation restores it (stateful only
	// when CRIU works, otherwise a cold start).
	ModeRestore Mode = "restore"
)

// ServiceSpec is what PUT /v1/services/{name} asks the agent to prepare.
type ServiceSpec struct {
	Name     string            `json:"name"`
	Image    string            `json:"image"`
	Mode     Mode              `json:"mode"`
	Port     int               `json:"port"`
	CPU      int               `json:"cpu,omitempty"`
	Memory   int64             `json:"memory,omitempty"` // bytes; counted against capacity.memory
	Config   map[string]string `json:"config,omitempty"`
	Priority int               `json:"priority,omitempty"`
	// DataDisk, when set, is attached to the container as a disk device.
	DataDisk *DataDisk `json:"data_disk,omitempty"`
	Epoch    uint64    `json:"epoch"`
}

// DataDisk is a host path shared with the primary (an NFS or Ceph mount on
// the standby VM) that the container mounts. Source must exist on the host
// the agent runs on: Prepare refuses the service with ErrDataDiskMissing
// otherwise, so a missing mount shows up long before an outage.
type DataDisk struct {
	Source string `json:"source"` // absolute path on the standby host
	Path   string `json:"path"`   // absolute mount path inside the container
}

var serviceNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// Validate reports the first problem of the spec, wrapping ErrInvalid.
func (s ServiceSpec) Validate() error {
	switch {
	case !serviceNameRE.MatchString(s.Name):
		return fmt.Errorf("%w: name %q must be a DNS label (a-z, 0-9, '-')", ErrInvalid, s.Name)
	case s.Image == "":
		return fmt.Errorf("%w: service %q: image is required", ErrInvalid, s.Name)
	case s.Mode != ModeWarm && s.Mode != ModeCold && s.Mode != ModeRestore:
		return fmt.Errorf("%w: service %q: mode %q must be warm, cold or restore", ErrInvalid, s.Name, s.Mode)
	case s.Port < 1 || s.Port > 65535:
		return fmt.Errorf("%w: service %q: port %d out of range", ErrInvalid, s.Name, s.Port)
	case s.CPU < 0 || s.Memory < 0:
		return fmt.Errorf("%w: service %q: negative cpu or memory", ErrInvalid, s.Name)
	case s.DataDisk != nil && (!path.IsAbs(s.DataDisk.Source) || !path.IsAbs(s.DataDisk.Path)):
		return fmt.Errorf("%w: service %q: data disk source %q and path %q must be absolute", ErrInvalid, s.Name, s.DataDisk.Source, s.DataDisk.Path)
	}
	if err := CheckConfig(s.Config); err != nil {
		return fmt.Errorf("service %q: %w", s.Name, err)
	}
	return nil
}

// EpochRequest is the body of activate, deactivate and delete.
type EpochRequest struct {
	Epoch uint64 `json:"epoch"`
}

// Phase is one timed step of an activation.
type Phase struct {
	Name string  `json:"name"`
	MS   float64 `json:"ms"`
}

// Activation is the result of POST /v1/services/{name}/activate.
type Activation struct {
	Service        string  `json:"service"`
	Address        string  `json:"address"`
	Mode           Mode    `json:"mode"`
	Restored       bool    `json:"restored"`
	FallbackReason string  `json:"fallback_reason,omitempty"`
	Phases         []Phase `json:"phases"`
	TookMS         float64 `json:"took_ms"`
}

// Health is the body of GET /v1/health.
type Health struct {
	Name    string `json:"name,omitempty"` // the agent's name from its config
	Ready   bool   `json:"ready"`
	Restore string `json:"restore"` // "available" or "unavailable: <reason>"
	Version string `json:"version"`
	Epoch   uint64 `json:"epoch"`
}

// Capacity is the body of GET /v1/capacity.
type Capacity struct {
	CPUs              int        `json:"cpus"`
	Load              [3]float64 `json:"load"` // 1, 5 and 15 minute load average
	StealPercent      float64    `json:"steal_percent"`
	StealIntervalMS   float64    `json:"steal_interval_ms"`
	MemoryTotal       int64      `json:"memory_total"`
	MemoryFree        int64      `json:"memory_free"` // MemAvailable
	ContainersRunning int        `json:"containers_running"`
	SlotsTotal        int        `json:"slots_total"`
	SlotsFree         int        `json:"slots_free"`
	MemoryLimit       int64      `json:"memory_limit"`    // capacity.memory
	MemoryReserved    int64      `json:"memory_reserved"` // sum of running services' memory
	// Shares are the fair shares of the active containers (the agent's fair-share split).
	Shares []ContainerShare `json:"shares,omitempty"`
	// LoadSource is agent.yaml's load-source (proc or cgroups): where
	// CPUPercent, MemoryUsed and, with cgroups, Load come from.
	LoadSource string `json:"load_source,omitempty"`
	// CPUPercent is the VM's CPU use over the last sampling interval
	// (CPUIntervalMS; 0 before two samples), as a share of its CPUs.
	CPUPercent    float64 `json:"cpu_percent"`
	CPUIntervalMS float64 `json:"cpu_interval_ms"`
	// MemoryUsed is the memory in use: MemTotal less MemAvailable (proc),
	// or the running instances' cgroups (cgroups; MemoryTotal is then
	// capacity.memory).
	MemoryUsed int64 `json:"memory_used"`
	// Instances are the daemon's running instances and what each used
	// over the same interval, from their cgroups (both sources, where the
	// runtime tells their init's PID), heaviest first.
	Instances []InstanceLoad `json:"instances,omitempty"`
}

// InstanceLoad is one running instance's use in GET /v1/capacity.
type InstanceLoad struct {
	Name string `json:"name"`
	// CPUPercent is its CPU use as a share of the VM's CPUs.
	CPUPercent  float64 `json:"cpu_percent"`
	MemoryBytes int64   `json:"memory_bytes"`
}

// ServiceStatus is one entry of GET /v1/services.
type ServiceStatus struct {
	Spec    ServiceSpec `json:"spec"`
	Address string      `json:"address,omitempty"` // static address from the pool, if any
	Running bool        `json:"running"`
	Active  bool        `json:"active"` // activated and not deactivated since
	Status  string      `json:"status"` // runtime status, e.g. Running, Stopped
}

// ProbeKind is the kind of POST /v1/probe.
type ProbeKind string

// The probe kinds.
const (
	ProbeICMP ProbeKind = "icmp"
	ProbeTCP  ProbeKind = "tcp"
	ProbeHTTP ProbeKind = "http"
)

// ProbeRequest is the body of POST /v1/probe.
type ProbeRequest struct {
	Address   string    `json:"address"`
	Kind      ProbeKind `json:"kind"`
	Port      int       `json:"port,omitempty"`
	TimeoutMS int       `json:"timeout_ms,omitempty"`
	// Path and ExpectStatus are read by http probes: GET http://ADDRESS:PORT/PATH
	// must answer ExpectStatus (0: any 2xx). A frozen VM still completes TCP
	// handshakes in its kernel, so only the service's own check confirms it.
	Path         string `json:"path,omitempty"`
	ExpectStatus int    `json:"expect_status,omitempty"`
}

// ProbeResult is the answer of POST /v1/probe.
type ProbeResult struct {
	OK    bool    `json:"ok"`
	RTTMS float64 `json:"rtt_ms"`
	Error string  `json:"error,omitempty"`
}

// ErrorBody is the JSON body of every error response: the message and the
// wire code of the sentinel (the server's errorCodes).
type ErrorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// Usage is what a container uses now.
type Usage struct {
	CPUSeconds  float64 `json:"cpu_seconds"`  // CPU time since it started
	MemoryBytes int64   `json:"memory_bytes"` // memory in use
}

// ContainerShare is one entry of Capacity.Shares.
type ContainerShare struct {
	fairshare.Share
	Use *Usage `json:"use,omitempty"` // nil when the runtime does not report use
}

// CheckConfig reports the first instance config key a monitor may not set,
// wrapping ErrInvalid. The agent applies it to every spec it prepares, so
// that a client certificate of the agent's CA cannot make a container
// privileged; the keys are the inventory's allow-list
// (inventory.ConfigKeyAllowed), which validation applies to
// container.config as well.
func CheckConfig(cfg map[string]string) error {
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !inventory.ConfigKeyAllowed(k, cfg[k]) {
			return fmt.Errorf("%w: config key %q=%q is not allowed (allowed: %s)", ErrInvalid, k, cfg[k], inventory.AllowedConfigKeys())
		}
	}
	return nil
}
