// Package api holds the wire types of the monitor daemon's HTTP API: the
// request and response bodies of every endpoint, the lines of the placement
// stream, and the headers monitors send each other. The daemon (package
// monitor and its parts), the clients in internal/monitorapi, drill, proxy
// and cmd/understudy all import these types, so the JSON has one definition
// (Incus's shared/api is the model).
//
// It imports only the standard library and the incident core (package
// recover, itself free of I/O: its typed phase names, and the incidents
// that Incident summarizes), holds no behaviour beyond that conversion,
// and does not serve or call the API itself. monitor/README.md is the
// reference of the endpoints.
package api

// Headers monitors send each other.
const (
	// ForwardedHeader marks a call one monitor forwarded to the leader; a
	// monitor that does not lead answers such a call with 503 rather than
	// forwarding it again.
	ForwardedHeader = "X-Understudy-Forwarded-By"
	// VantageHeader names the follower whose monitor confirmed the failure
	// a suspect report carries; the leader counts it as a monitor trigger
	// (only from a monitor's certificate).
	VantageHeader = "X-Understudy-Vantage"
)

// MaxBody bounds a request body the API reads.
const MaxBody = 64 << 10

// Error is the body of every error answer.
type Error struct {
	Error string `json:"error"`
	State string `json:"state,omitempty"` // the service's state, when it refused
}

// Health is the body of GET /healthz.
type Health struct {
	OK      bool   `json:"ok"`
	Epoch   uint64 `json:"epoch"`
	Monitor string `json:"monitor"`
	Leader  bool   `json:"leader"`
}

// TriggerRequest is the optional body of failover, reset and failback (and
// of a follower's suspect report).
type TriggerRequest struct {
	Reason string `json:"reason"`
}

// SuspectRequest is the optional body of suspect: the proxy also names the
// backend address it found down.
type SuspectRequest struct {
	Reason  string `json:"reason"`
	Address string `json:"address,omitempty"`
}

// TriggerResponse is the body of a successful suspect, failover or reset.
type TriggerResponse struct {
	Service string `json:"service"`
	Source  string `json:"source,omitempty"`
	State   string `json:"state"`
	// Coalesced is set on a suspect report that arrived within a second of
	// the previous one the executor took, and was not passed on.
	Coalesced bool `json:"coalesced,omitempty"`
}

// MigrateRequest is the optional body of POST /v1/services/{name}/migrate.
type MigrateRequest struct {
	To     string `json:"to,omitempty"` // a spare name; empty: the best one
	DryRun bool   `json:"dry_run,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// MigrateResponse is the answer of a migrate request: the scored
// candidates, and for a real one the spare chosen and the service's state.
type MigrateResponse struct {
	Service    string      `json:"service"`
	DryRun     bool        `json:"dry_run,omitempty"`
	To         string      `json:"to,omitempty"`
	State      string      `json:"state,omitempty"`
	Candidates []Candidate `json:"candidates"`
	Error      string      `json:"error,omitempty"`
}

// Candidate is one spare as package spares ranked it.
type Candidate struct {
	Name       string   `json:"name"`
	Zone       string   `json:"zone"`
	Roles      []string `json:"roles,omitempty"`       // roles of the services it hosts
	Steal      float64  `json:"steal"`                 // CPU steal, percent, from its agent
	Load1      float64  `json:"load1"`                 // 1-minute load average per CPU, from its agent
	Unmeasured string   `json:"unmeasured,omitempty"`  // why Steal and Load1 are unknown (then 0)
	FreeMemory int64    `json:"free_memory,omitempty"` // bytes; omitted when the inventory gives no capacity
	FreeSlots  int      `json:"free_slots"`
	Eligible   bool     `json:"eligible"`
	Rank       int      `json:"rank,omitempty"` // 1 is the best
	Reasons    []string `json:"reasons"`
}
