package api

import (
	"net/netip"
	"time"

	"github.com/understudy/understudy/recover"
)

// Status is the body of GET /v1/status.
type Status struct {
	Epoch uint64    `json:"epoch"`
	Time  time.Time `json:"time"`
	// Monitor is the monitor that answered; Monitors are all that campaign,
	// the leader first (one entry, leading, without an election).
	Monitor  string          `json:"monitor"`
	Monitors []MonitorStatus `json:"monitors"`
	// VMs are the standby VMs and spares with their last capacity samples
	// (taken by the leader).
	VMs      []VMStatus      `json:"vms"`
	Services []ServiceStatus `json:"services"`
	// Error says why part of the status is missing (a follower that cannot
	// read the store).
	Error string `json:"error,omitempty"`
}

// MonitorStatus is one monitor in GET /v1/status.
type MonitorStatus struct {
	Name    string    `json:"name"`
	Address string    `json:"address,omitempty"`
	Leader  bool      `json:"leader"`
	Since   time.Time `json:"since,omitzero"` // when it started leading
	Epoch   uint64    `json:"epoch,omitempty"`
}

// VMStatus is a standby or spare VM in GET /v1/status: its last capacity
// sample (from the agent on it) and, for a standby, whether it is
// overloaded.
type VMStatus struct {
	Name      string    `json:"name"`
	Kind      string    `json:"kind"` // standby or spare
	SampledAt time.Time `json:"sampled_at,omitzero"`
	// Steal is the CPU steal in percent, LoadPerCPU the 1-minute load
	// average per CPU; both are 0 and Unknown says why when there is no
	// usable sample.
	Steal      float64 `json:"steal_percent"`
	LoadPerCPU float64 `json:"load_per_cpu"`
	Unknown    string  `json:"unknown,omitempty"`
	// Overloaded (standbys): steal and load have both stayed above
	// migration.overload's thresholds for its window; Why says how far.
	Overloaded bool   `json:"overloaded,omitempty"`
	Why        string `json:"why,omitempty"`
	// CPUPercent and MemoryPercent are the VM's CPU and memory use as its
	// agent last reported them (load_source says from where), in percent.
	CPUPercent    float64 `json:"cpu_percent,omitempty"`
	MemoryPercent float64 `json:"memory_percent,omitempty"`
	LoadSource    string  `json:"load_source,omitempty"`
	// Trigger (standbys) is its overload trigger (load, steal-and-load,
	// memory), TriggerState its state: no-data, below, rising, fired,
	// cool-down or off.
	Trigger      string `json:"trigger,omitempty"`
	TriggerState string `json:"trigger_state,omitempty"`
	// CoolDownUntil (standbys): no automatic move off it before then.
	CoolDownUntil time.Time `json:"cool_down_until,omitzero"`
	// Decisions (standbys) are the trigger's recent decisions, oldest
	// first: fired, cleared, moved a service, held back by the cool-down.
	Decisions []string `json:"decisions,omitempty"`
	// Capacity is what the inventory says the VM holds (capacity:
	// containers and memory in bytes; 0 unknown).
	Capacity VMCapacity `json:"capacity"`
}

// VMCapacity is a VM's capacity in GET /v1/status.
type VMCapacity struct {
	Containers  int   `json:"containers,omitempty"`
	MemoryBytes int64 `json:"memory_bytes,omitempty"`
}

// ServiceStatus is one service in GET /v1/status.
type ServiceStatus struct {
	Service string        `json:"service"`
	State   string        `json:"state"`   // primary, suspect, failing-over, on-standby, stuck, ...
	Where   string        `json:"where"`   // primary, standby or spare
	Host    string        `json:"host"`    // the VM it runs on now
	Address string        `json:"address"` // the address clients are sent to
	Since   time.Time     `json:"since,omitzero"`
	Standby StandbyStatus `json:"standby"`
	// Incidents is how many incidents the service has had.
	Incidents int `json:"incidents"`
	// LastIncident is the open incident, or the last closed one.
	LastIncident *IncidentStatus `json:"last_incident,omitempty"`
	// DampedUntil is when flap damping stops refusing failovers (zero when
	// it does not).
	DampedUntil time.Time `json:"damped_until,omitzero"`
	// Sync is the service's content sync (services[].sync) as the leading
	// monitor runs it; nil without sync, and on a follower.
	Sync *SyncStatus `json:"sync,omitempty"`
	// Unprotected says why the service's failover waits for room on its
	// standby ("no capacity (needs 512 MiB, 128 MiB free)"); it is
	// recovered, by priority, when capacity frees.
	Unprotected string `json:"unprotected,omitempty"`
	// Rerouted are the proxies that send the service's requests to its
	// warm standby container because they cannot reach the primary
	// (proxy-reroute: warm); the leader keeps them in memory.
	Rerouted []RerouteStatus `json:"rerouted,omitempty"`
}

// SyncStatus is a service's content sync: the age of the standby's copy
// is the service's current recovery point (RPO).
type SyncStatus struct {
	// LastGood is when the last good sync began reading the primary (zero:
	// none yet); AgeMS is the time since (the current RPO).
	LastGood time.Time `json:"last_good,omitzero"`
	AgeMS    float64   `json:"age_ms,omitempty"`
	MaxRPOMS float64   `json:"max_rpo_ms"`
	// Exceeded: the copy is older than max-rpo (or none succeeded within
	// max-rpo of the monitor starting to sync).
	Exceeded bool `json:"exceeded"`
	// The last good sync: how long it took, the copy's files and size, how
	// many changed and the bytes read for them.
	TookMS    float64 `json:"took_ms,omitempty"`
	Files     int     `json:"files,omitempty"`
	Bytes     int64   `json:"bytes,omitempty"`
	Changed   int     `json:"changed,omitempty"`
	SentBytes int64   `json:"sent_bytes,omitempty"`
	// LastError says why the last sync failed (the copy is the last good
	// one); Blocked why syncs wait now (the service is not on a healthy
	// primary).
	LastError string `json:"last_error,omitempty"`
	Blocked   string `json:"blocked,omitempty"`
	Running   bool   `json:"running,omitempty"`
	// LastTry is when the last (or the running) sync began.
	LastTry time.Time `json:"last_try,omitzero"`
}

// CopyStatus is the recovery point an incident recorded when it opened.
type CopyStatus struct {
	SyncedAt time.Time `json:"synced_at,omitzero"` // zero: no sync had succeeded
	AgeMS    float64   `json:"age_ms"`
	Bytes    int64     `json:"bytes"`
	MaxRPOMS float64   `json:"max_rpo_ms"`
	// Note says it in words: "served from a copy 4m12s old".
	Note string `json:"note"`
}

// StandbyStatus is the state of the service's container on its standby
// agent, as far as the leading monitor prepared it.
type StandbyStatus struct {
	Name     string    `json:"name"`
	Prepared bool      `json:"prepared"`
	Address  string    `json:"address,omitempty"` // static address from the agent's pool
	At       time.Time `json:"at,omitzero"`       // of the last prepare attempt
	Error    string    `json:"error,omitempty"`
	Note     string    `json:"note,omitempty"` // why it is left alone
}

// IncidentStatus summarizes one incident with its timings in milliseconds.
type IncidentStatus struct {
	ID     string    `json:"id"`
	Open   bool      `json:"open"`
	Result string    `json:"result,omitempty"`
	Source string    `json:"source"` // of the trigger that opened it
	Reason string    `json:"reason"`
	From   string    `json:"from,omitempty"`
	To     string    `json:"to,omitempty"`
	Opened time.Time `json:"opened"`
	Closed time.Time `json:"closed,omitzero"`
	// TotalMS is from the first phase (detected) to the last one reached.
	TotalMS   float64       `json:"total_ms"`
	Phases    []PhaseStatus `json:"phases"`
	Steps     []StepStatus  `json:"steps"`
	Agent     []AgentPhase  `json:"agent_phases,omitempty"`
	Fallback  string        `json:"fallback,omitempty"`
	LastError string        `json:"last_error,omitempty"`
	Stuck     string        `json:"stuck,omitempty"`
	Disagreed string        `json:"disagreed,omitempty"`
	Warnings  []string      `json:"warnings,omitempty"` // e.g. a dns.verify server that did not converge
	// Copy is the recovery point when the incident opened (services[].sync).
	Copy *CopyStatus `json:"copy,omitempty"`
	// Frozen says the fence froze the primary: the fence-stop phase (its
	// force-stop in the background, after the DNS flip) or a fence-stop
	// warning follows, possibly after the incident closed.
	Frozen bool `json:"frozen,omitempty"`
	// FenceStopFailed says that background force-stop failed (a warning
	// says why): it is no longer pending.
	FenceStopFailed bool `json:"fence_stop_failed,omitempty"`
}

// FenceStopPending reports whether the incident's fence froze the primary
// and its background force-stop has not ended yet (neither the fence-stop
// phase nor FenceStopFailed): the primary must not be started or
// thawed before then.
func (i *IncidentStatus) FenceStopPending() bool {
	if i == nil {
		return false
	}
	inc := recover.Incident{Frozen: i.Frozen, FenceStopFailed: i.FenceStopFailed}
	for _, p := range i.Phases {
		inc.Phases = append(inc.Phases, recover.PhaseTime{Phase: p.Phase, At: p.At})
	}
	return inc.FenceStopPending()
}

// Phase returns when the incident reached phase (zero when it did not, or
// for a nil incident).
func (i *IncidentStatus) Phase(phase recover.Phase) time.Time {
	if i == nil {
		return time.Time{}
	}
	for _, p := range i.Phases {
		if p.Phase == phase {
			return p.At
		}
	}
	return time.Time{}
}

// PhaseStatus is when an incident reached a phase: AtMS after it was
// detected, SinceMS after the phase before.
type PhaseStatus struct {
	Phase   recover.Phase `json:"phase"`
	At      time.Time     `json:"at"`
	AtMS    float64       `json:"at_ms"`
	SinceMS float64       `json:"since_ms"`
}

// StepStatus is one playbook step of an incident.
type StepStatus struct {
	Kind    string  `json:"kind"`
	Status  string  `json:"status"`
	Attempt int     `json:"attempt,omitempty"`
	MS      float64 `json:"ms,omitempty"` // first attempt to end
	Error   string  `json:"error,omitempty"`
	Note    string  `json:"note,omitempty"`
}

// AgentPhase is one part of the standby agent's activation, as the agent
// timed it.
type AgentPhase struct {
	Name string `json:"name"`
	MS   int64  `json:"ms"`
}

// Placement is where a service runs: one entry of GET /v1/placements and of
// the placement stream.
type Placement struct {
	Service string     `json:"service"`
	Where   string     `json:"where"` // primary, standby or spare
	Host    string     `json:"host"`  // the VM's name
	Address netip.Addr `json:"address"`
	Since   time.Time  `json:"since"`
	Epoch   uint64     `json:"epoch"`
	// Held: the service is moving (a migration or failback); new requests
	// wait until a placement without it arrives, then go to that
	// placement's address. Requests already sent finish.
	Held bool `json:"held,omitempty"`
	// FailingOver: the service's failover runs (from its confirmed failure
	// until the DNS flip); new requests wait, as for Held, until a
	// placement without it arrives.
	FailingOver bool `json:"failing_over,omitempty"`
	// Unavailable: why the service is served nowhere (its failover stuck
	// after the fence, or the standby had no room: "unprotected: ...");
	// proxies answer 503 with it at once instead of holding.
	Unavailable string `json:"unavailable,omitempty"`
}

// The types of a PlacementEvent.
const (
	// EventSnapshot: Placements holds every service (the stream's first
	// line, and the body of GET /v1/placements).
	EventSnapshot = "snapshot"
	// EventChange: Placements holds the one service that moved.
	EventChange = "change"
	// EventKeepalive: nothing happened (sent every 15 s on a quiet stream).
	EventKeepalive = "keepalive"
)

// PlacementEvent is one line of GET /v1/placements?watch=1, and the body of
// GET /v1/placements (Type EventSnapshot).
type PlacementEvent struct {
	// Type is EventSnapshot, EventChange or EventKeepalive.
	Type       string      `json:"type"`
	Placements []Placement `json:"placements,omitempty"`
}
