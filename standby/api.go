package standby

import "github.com/understudy/understudy/standby/api"

// The agent's wire types are defined once, in standby/api; these names keep
// the package's API (the agent, its server and its client use them).
type (
	// Mode is api.Mode: how a service's container waits on the standby VM.
	Mode = api.Mode
	// ServiceSpec is api.ServiceSpec: what PUT /v1/services/{name} prepares.
	ServiceSpec = api.ServiceSpec
	// DataDisk is api.DataDisk: a host path shared with the primary.
	DataDisk = api.DataDisk
	// EpochRequest is api.EpochRequest: the body of activate, deactivate, delete.
	EpochRequest = api.EpochRequest
	// Phase is api.Phase: one timed step of an activation.
	Phase = api.Phase
	// Activation is api.Activation: the result of an activation.
	Activation = api.Activation
	// Health is api.Health: the body of GET /v1/health.
	Health = api.Health
	// Capacity is api.Capacity: the body of GET /v1/capacity.
	Capacity = api.Capacity
	// ServiceStatus is api.ServiceStatus: one entry of GET /v1/services.
	ServiceStatus = api.ServiceStatus
	// ProbeKind is api.ProbeKind: the kind of POST /v1/probe.
	ProbeKind = api.ProbeKind
	// ProbeRequest is api.ProbeRequest: the body of POST /v1/probe.
	ProbeRequest = api.ProbeRequest
	// ProbeResult is api.ProbeResult: the answer of POST /v1/probe.
	ProbeResult = api.ProbeResult
	// Usage is api.Usage: what a container uses now.
	Usage = api.Usage
	// ContainerShare is api.ContainerShare: one entry of Capacity.Shares.
	ContainerShare = api.ContainerShare
	// InstanceLoad is api.InstanceLoad: one entry of Capacity.Instances.
	InstanceLoad = api.InstanceLoad
)

// The preparation modes (api.ModeWarm, ...) and probe kinds.
const (
	ModeWarm    = api.ModeWarm
	ModeCold    = api.ModeCold
	ModeRestore = api.ModeRestore
	ProbeICMP   = api.ProbeICMP
	ProbeTCP    = api.ProbeTCP
	ProbeHTTP   = api.ProbeHTTP
)

// CheckConfig reports the first instance config key a monitor may not set
// (api.CheckConfig), wrapping ErrInvalid.
func CheckConfig(cfg map[string]string) error { return api.CheckConfig(cfg) }
