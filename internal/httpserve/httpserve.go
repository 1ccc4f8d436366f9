// Package httpserve is the one configuration of the daemons' HTTP servers
// (the monitor's API, the standby agent): timeouts for a request's header,
// its body and an idle keep-alive connection, and a cap on open
// connections, so that a burst of clients or slow senders cannot hold a
// daemon's memory and file descriptors.
//
// The read timeout bounds reading a request, header and body; once the body
// is read, net/http lifts the deadline, so a long answer (the monitor's
// placement stream, hours long) is not cut by it. Responses have no write
// timeout for the same reason; handlers bound their own work.
package httpserve

import (
	"log"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

// Limits are a server's timeouts and connection cap; a zero field takes
// its default.
type Limits struct {
	// ReadHeader bounds reading a request's header (default 10s).
	ReadHeader time.Duration
	// Read bounds reading a whole request with a body, header included
	// (default 30s); NoRead turns it off, for a server that bounds bodies
	// itself (the proxy: net/http cancels a request whose read deadline
	// passes, which would cut a long upload).
	Read time.Duration
	// Idle is how long a keep-alive connection may wait for its next
	// request (default 60s).
	Idle time.Duration
	// MaxConns caps the connections open at once (default 1024); further
	// ones wait in the listen backlog until one closes.
	MaxConns int
}

// NoRead, as Limits.Read, sets no whole-request read timeout.
const NoRead time.Duration = -1

// Defaults of Limits.
const (
	DefaultReadHeader = 10 * time.Second
	DefaultRead       = 30 * time.Second
	DefaultIdle       = 60 * time.Second
	DefaultMaxConns   = 1024
)

func (l Limits) withDefaults() Limits {
	if l.ReadHeader <= 0 {
		l.ReadHeader = DefaultReadHeader
	}
	switch {
	case l.Read == NoRead:
		l.Read = 0
	case l.Read <= 0:
		l.Read = DefaultRead
	}
	if l.Idle <= 0 {
		l.Idle = DefaultIdle
	}
	if l.MaxConns <= 0 {
		l.MaxConns = DefaultMaxConns
	}
	return l
}

// New returns a server for h with l's timeouts, logging to errLog (nil: the
// log package's default). Serve it on Cap's listener.
func New(h http.Handler, l Limits, errLog *log.Logger) *http.Server {
	l = l.withDefaults()
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeader,
		ReadTimeout:       l.Read,
		IdleTimeout:       l.Idle,
		ErrorLog:          errLog,
	}
}

// Cap returns ln accepting at most l.MaxConns connections at once. Cap the
// TCP listener and put TLS above it: net/http sees a request's TLS state only
// on a *tls.Conn.
func Cap(ln net.Listener, l Limits) net.Listener {
	return netutil.LimitListener(ln, l.withDefaults().MaxConns)
}
