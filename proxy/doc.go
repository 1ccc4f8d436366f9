// Package proxy is understudy's HTTP reverse proxy: the per-request fast
// path of a failover.
//
// It routes each request by its Host header to the current backend of one
// service, as told by the monitor's placement stream, and probes the
// backend's address with one ICMP echo (a few milliseconds at most) before
// forwarding. When the probe misses, or the backend refuses, resets or times
// out a connection, the backend becomes suspect: the proxy reports it to the
// monitor once and holds this and every new request for the service until
// the placement changes (or the same backend answers again), then forwards
// them. While the placement says Held (the monitor is migrating or failing
// back the service) it holds new requests the same way and releases them to
// the placement current when the flag goes. Holds and queues are bounded;
// past either the client gets 503 with Retry-After.
//
// The proxy does not change placements itself (it only reports), does not
// load-balance (one backend per service at a time), does not terminate TLS
// and never forwards to a host that is not a configured service: an unknown
// Host gets 421 Misdirected Request.
package proxy
