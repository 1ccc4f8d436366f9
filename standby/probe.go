package standby

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	probing "github.com/prometheus-community/pro-bing"
)

// Probe limits.
const (
	defaultProbeTimeout = time.Second
	maxProbeTimeout     = 10 * time.Second
)

// Probe checks addr from the standby VM by one ICMP echo (privileged raw
// socket), one TCP connect or one HTTP GET. A failed probe is a result with OK false and
// the reason, not an error; errors are for invalid requests.
func Probe(ctx context.Context, req ProbeRequest) (ProbeResult, error) {
	addr, err := netip.ParseAddr(req.Address)
	if err != nil {
		return ProbeResult{}, fmt.Errorf("%w: address %q is not an IP address", ErrInvalid, req.Address)
	}
	timeout := time.Duration(req.TimeoutMS) * time.Millisecond
	switch {
	case req.TimeoutMS < 0:
		return ProbeResult{}, fmt.Errorf("%w: negative timeout_ms", ErrInvalid)
	case timeout == 0:
		timeout = defaultProbeTimeout
	case timeout > maxProbeTimeout:
		timeout = maxProbeTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch req.Kind {
	case ProbeTCP:
		if req.Port < 1 || req.Port > 65535 {
			return ProbeResult{}, fmt.Errorf("%w: tcp probe needs a port", ErrInvalid)
		}
		return probeTCP(ctx, addr, req.Port), nil
	case ProbeHTTP:
		if req.Port < 1 || req.Port > 65535 {
			return ProbeResult{}, fmt.Errorf("%w: http probe needs a port", ErrInvalid)
		}
		return probeHTTP(ctx, addr, req), nil
	case ProbeICMP:
		return probeICMP(ctx, addr, timeout), nil
	default:
		return ProbeResult{}, fmt.Errorf("%w: kind %q must be icmp, tcp or http", ErrInvalid, req.Kind)
	}
}

func probeTCP(ctx context.Context, addr netip.Addr, port int) ProbeResult {
	var d net.Dialer
	start := time.Now()
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(addr.String(), strconv.Itoa(port)))
	rtt := ms(time.Since(start))
	if err != nil {
		return ProbeResult{RTTMS: rtt, Error: "tcp connect: " + err.Error()}
	}
	c.Close()
	return ProbeResult{OK: true, RTTMS: rtt}
}

func probeICMP(ctx context.Context, addr netip.Addr, timeout time.Duration) ProbeResult {
	p, err := probing.NewPinger(addr.String())
	if err != nil {
		return ProbeResult{Error: "icmp: " + err.Error()}
	}
	p.SetPrivileged(true)
	p.Count = 1
	p.Timeout = timeout
	p.Interval = timeout
	if err := p.RunWithContext(ctx); err != nil {
		return ProbeResult{Error: "icmp: " + err.Error()}
	}
	st := p.Statistics()
	if st.PacketsRecv == 0 {
		reason := "no echo reply within " + timeout.String()
		if errors.Is(ctx.Err(), context.Canceled) {
			reason = "cancelled"
		}
		return ProbeResult{Error: "icmp: " + reason}
	}
	return ProbeResult{OK: true, RTTMS: ms(st.AvgRtt)}
}
