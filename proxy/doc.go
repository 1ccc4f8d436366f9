// Package proxy is understudy's HTTP reverse proxy: the per-request fast
// path of a failover.
//
// It routes each request by its Host header to the current backend of one
// service, as told by the monitor's placement stream, and probes the
// backend's address with an ICMP echo whose timeout adapts to the host's
// RTTs (RFC 6298's SRTT + 4·RTTVAR, between Config.ProbeFloor and the
// service's ProbeTimeout): unsafe methods (POST, ...) wait for it before
// they are sent; safe ones (GET, ...) are forwarded at once with the probe
// running alongside, and reuse an answer or a response younger than
// Config.ProbeFresh. A missed echo is confirmed by a second one (or cleared
// by a response from the backend meanwhile) before it counts. When the
// probe's miss is confirmed, or the backend refuses, resets
// or times out a connection, the backend becomes suspect: the proxy reports it to the
// monitor once and holds this and every new request for the service until
// the placement changes (or the same backend answers again), then forwards
// them. While the placement says Held (the monitor is migrating or failing
// back the service) it holds new requests the same way and releases them to
// the placement current when the flag goes; while it says FailingOver (the
// monitor confirmed the failure and fails the service over) too, bounded
// by Config.HeldMax instead of the service's hold. A placement that says
// Unavailable (a failover stuck after the fence, or unprotected) gets 503
// at once, with the reason in the X-Understudy-Unavailable header. When the placement moves, the
// idempotent requests still waiting for headers from the old backend are
// sent again to the new one. Holds and queues are bounded; past either the
// client gets 503 with Retry-After. Proxy.Server and Listener bound the
// client side: idle keep-alive connections are closed, the number of
// connections is capped, and a stalled request body is cut.
//
// With Service.Reroute (proxy-reroute: warm) a confirmed probe miss of
// the primary sends the requests to the service's warm standby container
// instead (its address from the monitor's status), without an incident,
// and back once the primary passes 25 rechecks in a row; the monitor is
// told (reroute.go).
//
// The proxy does not change placements itself (it only reports), does not
// load-balance (one backend per service at a time), does not terminate TLS
// and never forwards to a host that is not a configured service: an unknown
// Host gets 421 Misdirected Request.
package proxy
