package proxy

import (
	"net"
	"net/http"
	"time"

	"github.com/understudy/understudy/internal/httpserve"
)

// Defaults of ServerLimits, applied to its zero fields.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 30 * time.Second
	DefaultMaxConns          = 4096
)

// ServerLimits bound what clients can hold open on the proxy's port.
// The request body has its own bound, Config.BodyTimeout. There is no
// timeout on a whole request or response: a long download or a stream
// through the proxy is not cut.
type ServerLimits struct {
	// ReadHeaderTimeout bounds reading one request's headers.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes a keep-alive connection idle for this long
	// between two requests.
	IdleTimeout time.Duration
	// MaxConns is the most client connections served at once. Past it,
	// new connections wait in the listen backlog, unaccepted, until one
	// closes.
	MaxConns int
}

// limits are l as the daemons' one server configuration (httpserve), with
// the proxy's defaults and no whole-request read timeout.
func (l ServerLimits) limits() httpserve.Limits {
	if l.ReadHeaderTimeout <= 0 {
		l.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = DefaultIdleTimeout
	}
	if l.MaxConns <= 0 {
		l.MaxConns = DefaultMaxConns
	}
	return httpserve.Limits{ReadHeader: l.ReadHeaderTimeout, Read: httpserve.NoRead, Idle: l.IdleTimeout, MaxConns: l.MaxConns}
}

// Server returns an HTTP server for the proxy's port with the limits l
// (zero fields get the defaults). Serve it on Listener's listener, which
// enforces MaxConns. The understudy_proxy_client_connections gauge counts
// the connections it serves.
func (p *Proxy) Server(l ServerLimits) *http.Server {
	srv := httpserve.New(p, l.limits(), nil)
	srv.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			p.m.clientConns.Inc()
		case http.StateClosed, http.StateHijacked:
			p.m.clientConns.Dec()
		}
	}
	return srv
}

// Listener wraps ln so that at most l.MaxConns (DefaultMaxConns when
// zero) of its connections are open at once; Accept waits for one to
// close past that.
func Listener(ln net.Listener, l ServerLimits) net.Listener {
	return httpserve.Cap(ln, l.limits())
}
