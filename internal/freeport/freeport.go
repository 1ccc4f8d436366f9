// Package freeport picks loopback URLs for the embedded etcd servers
// (embedded.Start, ha.StartPeers) when none is configured.
package freeport

import (
	"net"
	"net/url"
)

// URL parses raw, or picks a free port on 127.0.0.1 when raw is empty and
// returns http://127.0.0.1:PORT. The port is released before the caller
// binds it: another process may take it first (a rare race the callers
// retry or report).
func URL(raw string) (*url.URL, error) {
	if raw != "" {
		return url.Parse(raw)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return nil, err
	}
	return url.Parse("http://" + addr)
}
