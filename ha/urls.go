package ha

import (
	"net"
	"net/url"
)

// freeURL parses raw, or picks a free port on 127.0.0.1 when raw is empty
// (the port is released before etcd binds it; a rare race).
func freeURL(raw string) (*url.URL, error) {
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
