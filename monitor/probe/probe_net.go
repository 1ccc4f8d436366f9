package probe

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// maxBody bounds how much of an HTTP response body a probe reads.
const maxBody = 64 << 10

// icmp sends one echo request to t.Address.
func (p *probers) icmp(ctx context.Context, t Target) error {
	if p.deps.Pinger == nil {
		return fmt.Errorf("icmp probe of %s: no pinger: %w", t.Address, ErrNotConfigured)
	}
	addr, err := resolve(ctx, t.Address)
	if err != nil {
		return err
	}
	if _, err := p.deps.Pinger.Ping(ctx, addr); err != nil {
		return err // the pinger says "ping ADDR: why"
	}
	return nil
}

// resolve turns an IP address or host name into one IPv4 address.
func resolve(ctx context.Context, host string) (netip.Addr, error) {
	if host == "" {
		return netip.Addr{}, fmt.Errorf("no address to probe: %w", ErrNotConfigured)
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return a, nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", host)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("resolve %q: %w", host, err)
	}
	return addrs[0].Unmap(), nil // LookupNetIP returns an error rather than no address
}

// probeTCP connects to t.Address:t.Port and closes the connection.
func probeTCP(ctx context.Context, t Target) error {
	hostport := net.JoinHostPort(t.Address, strconv.Itoa(t.Port))
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", hostport)
	if err != nil {
		return fmt.Errorf("connect %s: %w", hostport, err)
	}
	// Close with a reset: no FIN exchange, and no TIME_WAIT socket left
	// on the monitor for every probe (thousands a second at scale).
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	return c.Close()
}

// http sends GET scheme://Address:Port/Path and checks the status. It
// follows no redirect (a 3xx is a status like any other), reads at most
// maxBody of the body, and keeps no connection.
func (p *probers) http(ctx context.Context, t Target) error {
	path := t.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path // "" and "healthz" alike
	}
	url := string(t.Kind) + "://" + net.JoinHostPort(t.Address, strconv.Itoa(t.Port)) + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("build request for %s: %w", url, err)
	}
	req.Header.Set("User-Agent", "understudy-monitor")
	resp, err := p.client(t).Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err) // the url holds no secret: address, port, path
	}
	defer resp.Body.Close()
	_, readErr := io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	if !statusOK(resp.StatusCode, t.ExpectStatus) {
		return fmt.Errorf("GET %s: status %d, want %s: %w", url, resp.StatusCode, wantStatus(t.ExpectStatus), ErrUnexpectedStatus)
	}
	if readErr != nil {
		return fmt.Errorf("GET %s: read body: %w", url, readErr)
	}
	return nil
}

func (p *probers) client(t Target) *http.Client {
	rt := p.deps.Transport
	if rt == nil {
		rt = &http.Transport{
			TLSClientConfig:   t.TLS,
			DisableKeepAlives: true,
		}
	}
	return &http.Client{
		Transport: rt,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

func statusOK(got, want int) bool {
	if want == 0 {
		return got >= 200 && got < 300
	}
	return got == want
}

func wantStatus(want int) string {
	if want == 0 {
		return "2xx"
	}
	return strconv.Itoa(want)
}
