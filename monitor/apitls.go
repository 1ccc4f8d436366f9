package monitor

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"

	"github.com/understudy/understudy/ha"
	"github.com/understudy/understudy/internal/monitorapi"
	"github.com/understudy/understudy/internal/pki"
	"github.com/understudy/understudy/internal/tlsfiles"
	"github.com/understudy/understudy/inventory"
)

// peerAPI is how this monitor calls another monitor's API (a follower
// forwarding to, reporting to or asking its leader): plain HTTP, or, with
// monitor.api-tls, HTTPS presenting this monitor's own certificate and
// verifying the other's with api-tls.ca. All monitors of one inventory share
// the setting, so the scheme follows it (leader addresses are host:port).
type peerAPI struct {
	scheme string
	hc     *http.Client
}

// apiTLS wraps ln in mutual TLS when monitor.api-tls is set (every
// endpoint then needs a client certificate signed by api-tls.ca; rotated
// files apply at the next handshake) and sets the client for peers. The
// files are read once here; a change of their paths needs a restart.
func (c *Controller) apiTLS(ln net.Listener, inv *inventory.Inventory) (net.Listener, error) {
	f := inv.Monitor.APITLS
	if f.IsZero() {
		c.peers = peerAPI{scheme: "http", hc: monitorapi.HTTPClient(nil)}
		return ln, nil
	}
	srv, err := tlsfiles.NewServer(f.Cert, f.Key, f.CA)
	if err != nil {
		return nil, fmt.Errorf("monitor.api-tls: %w", err)
	}
	conf, err := tlsfiles.Client(f.CA, f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("monitor.api-tls as a client of the other monitors: %w", err)
	}
	// The monitors share this certificate's name (the rule of the etcd
	// peers, package pki): only a client with it may send a vantage report.
	cn, err := pki.CommonName(f.Cert)
	if err != nil {
		return nil, fmt.Errorf("monitor.api-tls: %w", err)
	}
	c.peers = peerAPI{scheme: "https", hc: monitorapi.HTTPClient(conf)}
	c.mtls, c.monitorCN = true, cn
	return tls.NewListener(ln, srv.Config()), nil
}

// leaderURL is the base URL of leader's API.
func (p peerAPI) leaderURL(l ha.Leader) *url.URL {
	return &url.URL{Scheme: p.scheme, Host: l.Address}
}

// client is a client of leader's API.
func (p peerAPI) client(l ha.Leader) (*monitorapi.Client, error) {
	return monitorapi.New(p.leaderURL(l).String(), p.hc)
}
