package inventory

import (
	"net"
	"net/netip"
	"strings"
)

// LoopbackListen reports whether a listen address (host:port) accepts
// connections from this machine only: a loopback IP or "localhost". An
// empty or unspecified host (all interfaces), another name or a malformed
// address is not loopback.
func LoopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// checkAPIAuth checks who may use the monitor's API: a non-loopback
// address needs mutual TLS unless insecure-api says otherwise, and the
// bearer token file is for a plain-HTTP API only.
func (d *decoder) checkAPIAuth(x *Monitor) {
	tls := !x.APITLS.IsZero()
	if !tls && !x.InsecureAPI && x.Listen != "" && !LoopbackListen(x.Listen) {
		d.ErrPath("monitor.listen", "%s is reachable from other machines without monitor.api-tls: anyone who reaches it could read the API and fail services over; set monitor.api-tls (mutual TLS), listen on 127.0.0.1, or set monitor.insecure-api: true to accept that", x.Listen)
	}
	if tls && x.APITokenFile != "" {
		d.ErrPath("monitor.api-token-file", "set it only without monitor.api-tls: with mutual TLS the client certificate is the credential")
	}
	if tls && x.InsecureAPI {
		d.ErrPath("monitor.insecure-api", "has no effect with monitor.api-tls; remove it")
	}
}
