package standby

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/understudy/understudy/monitor/probe"
)

// Probe limits.
const (
	defaultProbeTimeout = time.Second
	maxProbeTimeout     = 10 * time.Second
)

// Probe checks req.Address from the standby VM with the probe registry of
// monitor/probe, the same functions the monitor probes with: one ICMP echo
// through pinger (internal/icmp's raw socket; nil makes icmp probes fail
// with probe.ErrNotConfigured), one TCP connect, or one HTTP GET. A failed
// probe is a result with OK false and the probe's reason, not an error;
// errors (wrapping ErrInvalid) are for invalid requests. RTTMS is the wall
// time of the probe, measured here as the caller owns the timing.
func Probe(ctx context.Context, pinger probe.Pinger, req ProbeRequest) (ProbeResult, error) {
	t, timeout, err := probeTarget(req)
	if err != nil {
		return ProbeResult{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	err = probe.Probers(probe.Deps{Pinger: pinger})[t.Kind](ctx, t)
	res := ProbeResult{OK: err == nil, RTTMS: ms(time.Since(start))}
	if err != nil {
		res.Error = err.Error()
	}
	return res, nil
}

// probeTarget validates req and turns it into a probe target and its timeout.
func probeTarget(req ProbeRequest) (probe.Target, time.Duration, error) {
	addr, err := netip.ParseAddr(req.Address)
	if err != nil {
		return probe.Target{}, 0, fmt.Errorf("%w: address %q is not an IP address", ErrInvalid, req.Address)
	}
	timeout := time.Duration(req.TimeoutMS) * time.Millisecond
	switch {
	case req.TimeoutMS < 0:
		return probe.Target{}, 0, fmt.Errorf("%w: negative timeout_ms", ErrInvalid)
	case timeout == 0:
		timeout = defaultProbeTimeout
	case timeout > maxProbeTimeout:
		timeout = maxProbeTimeout
	}
	t := probe.Target{Kind: probe.Kind(req.Kind), Address: addr.Unmap().String(), Port: req.Port}
	switch req.Kind {
	case ProbeTCP, ProbeHTTP:
		if req.Port < 1 || req.Port > 65535 {
			return probe.Target{}, 0, fmt.Errorf("%w: %s probe needs a port", ErrInvalid, req.Kind)
		}
		t.Path, t.ExpectStatus = req.Path, req.ExpectStatus
	case ProbeICMP:
	default:
		return probe.Target{}, 0, fmt.Errorf("%w: kind %q must be icmp, tcp or http", ErrInvalid, req.Kind)
	}
	return t, timeout, nil
}
