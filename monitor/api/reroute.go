package api

import "time"

// RerouteRequest is the body of POST /v1/services/{name}/reroute: a proxy
// with proxy-reroute: warm tells the monitor that it sends the service's
// requests to the warm standby container (Active) because its own probes
// cannot reach the primary, or that it sends them to the primary again
// (not Active). It is a report, not a trigger: no incident opens and DNS
// stays. An active proxy repeats it every 30 s; the monitor forgets one
// not repeated within RerouteTTL.
type RerouteRequest struct {
	// Proxy names the proxy (its host name by default); empty: the
	// monitor names it by the caller's address.
	Proxy   string `json:"proxy,omitempty"`
	Active  bool   `json:"active"`
	Primary string `json:"primary,omitempty"`
	Standby string `json:"standby,omitempty"`
	Reason  string `json:"reason,omitempty"`
	// Since is when the proxy began sending the requests to the standby
	// (zero: when the monitor first heard of it).
	Since time.Time `json:"since,omitzero"`
}

// RerouteTTL is how long the monitor keeps an active reroute report that
// the proxy did not repeat (a proxy that died while rerouting).
const RerouteTTL = 90 * time.Second

// RerouteStatus is one proxy that sends a service's requests to its warm
// standby container, in GET /v1/status (ServiceStatus.Rerouted).
type RerouteStatus struct {
	Proxy   string    `json:"proxy"`
	Since   time.Time `json:"since"`
	Primary string    `json:"primary,omitempty"`
	Standby string    `json:"standby,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	// Seen is when the proxy last repeated the report.
	Seen time.Time `json:"seen"`
}
