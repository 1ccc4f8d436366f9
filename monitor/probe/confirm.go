package probe

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ProbeRequest asks the standby agent to probe a primary from its side
// (POST /v1/probe). Kind is "icmp" or "tcp".
type ProbeRequest struct {
	Address   string
	Kind      string
	Port      int
	TimeoutMS int
	// Path and ExpectStatus are set for "http" probes.
	Path         string
	ExpectStatus int
}

// ProbeResult is the agent's answer.
type ProbeResult struct {
	OK    bool
	RTTMS float64
	Error string
}

// Confirmer is the standby agent's probe endpoint, seen from the monitor.
// Probe returns an error only when the agent could not be asked; a probe
// that ran and failed is a ProbeResult with OK false.
type Confirmer interface {
	Probe(ctx context.Context, req ProbeRequest) (ProbeResult, error)
}

// ConfirmerFunc adapts a function to Confirmer.
type ConfirmerFunc func(ctx context.Context, req ProbeRequest) (ProbeResult, error)

// Probe calls f.
func (f ConfirmerFunc) Probe(ctx context.Context, req ProbeRequest) (ProbeResult, error) {
	return f(ctx, req)
}

// verdict is the outcome of asking the agent about one finding.
type verdict struct {
	agree  bool
	reason string
}

// confirmer asks the standby agent about findings.
type confirmer struct {
	agent   Confirmer // nil: no agent configured
	ix      index
	timing  Timing
	timeout time.Duration // bounds one call to the agent
	metrics *Metrics
}

// needs reports whether f waits for the agent before it is emitted: always
// for Isolated, never for Degraded; for failures when any covered service
// asks for it, or, for a VM without services, when an agent is configured.
func (c *confirmer) needs(f Finding) bool {
	switch f.Kind {
	case Isolated:
		return true
	case Degraded:
		return false
	}
	if len(f.Services) == 0 {
		return c.agent != nil
	}
	for _, name := range f.Services {
		if c.ix.service[name].Confirm != ConfirmNone {
			return true
		}
	}
	return false
}

// confirmJob asks the agent about every finding of j in one round: all
// their probes at once. The agent agrees with a finding when every one of
// its probes fails too; each finding gets its own verdict, so a merged
// host round fails over exactly what a round per finding would.
func (c *confirmer) confirmJob(ctx context.Context, j job) []verdict {
	out := make([]verdict, len(j.fs))
	type probe struct {
		finding int
		req     ProbeRequest
	}
	var probes []probe
	for i, f := range j.fs {
		switch {
		case f.Kind == ServiceDown && f.Application:
			out[i] = verdict{agree: true, reason: "the service answered wrongly; reachability from the standby cannot change that"}
		case c.agent == nil:
			out[i] = verdict{reason: "confirmation required but no standby agent is configured"}
		default:
			reqs := c.requests(f)
			if len(reqs) == 0 {
				out[i] = verdict{reason: "nothing the standby agent can probe"}
			}
			for _, r := range reqs {
				probes = append(probes, probe{finding: i, req: r})
			}
		}
	}
	if len(probes) == 0 {
		return out
	}
	c.metrics.countConfirmation(j.hypervisor)
	answers := make([]string, len(probes))
	reached := make([]bool, len(probes))
	var wg sync.WaitGroup
	for i, p := range probes {
		wg.Go(func() { reached[i], answers[i] = c.ask(ctx, p.req) })
	}
	wg.Wait()
	said := make([][]string, len(j.fs))
	for i, p := range probes {
		if said[p.finding] == nil {
			out[p.finding].agree = true
		}
		out[p.finding].agree = out[p.finding].agree && !reached[i]
		said[p.finding] = append(said[p.finding], answers[i])
	}
	for i, s := range said {
		if s != nil {
			out[i].reason = "standby agent: " + strings.Join(s, "; ")
		}
	}
	return out
}

// hostOf is the one hypervisor f is on: its own, or that of all its VMs;
// "" when it spans several.
func (c *confirmer) hostOf(f Finding) string {
	if f.Hypervisor != "" {
		return f.Hypervisor
	}
	h := ""
	for i, vm := range f.VMs {
		v := c.ix.vm[vm].Hypervisor
		if i > 0 && v != h {
			return ""
		}
		h = v
	}
	return h
}

// ask runs one agent probe. reached is true when the agent reached the
// address, and also when the agent could not be asked (no agreement).
func (c *confirmer) ask(ctx context.Context, r ProbeRequest) (reached bool, answer string) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	what := r.Kind + " " + r.Address
	if r.Kind == "tcp" {
		what += ":" + strconv.Itoa(r.Port)
	}
	res, err := c.agent.Probe(ctx, r)
	switch {
	case err != nil:
		return true, fmt.Sprintf("%s: could not ask: %v", what, err)
	case res.OK:
		return true, fmt.Sprintf("%s answers (%.2f ms)", what, res.RTTMS)
	default:
		return false, fmt.Sprintf("%s fails too: %s", what, res.Error)
	}
}

// requests are the agent probes that check f: the checks of the services
// it covers (a service, or a VM or host that runs services), the VM
// addresses of a VM or host without services, and every VM of the
// underlying findings for Isolated.
func (c *confirmer) requests(f Finding) []ProbeRequest {
	ms := int(c.timing.Timeout / time.Millisecond)
	icmp := func(vm string) ProbeRequest {
		return ProbeRequest{Address: c.ix.vm[vm].Address, Kind: "icmp", TimeoutMS: ms}
	}
	switch f.Kind {
	case ServiceDown:
		var out []ProbeRequest
		for _, name := range f.Services {
			out = append(out, c.serviceRequest(c.ix.service[name], ms))
		}
		return out
	case Isolated:
		var out []ProbeRequest
		for _, u := range f.Underlying {
			if u.Kind == VMDown || u.Kind == HostDown {
				for _, vm := range u.VMs {
					out = append(out, icmp(vm))
				}
			}
		}
		return out
	default:
		var out []ProbeRequest
		if len(f.Services) > 0 {
			// What a failover would move is the services: a frozen VM whose
			// instance is not running still answers ICMP from its kernel.
			for _, name := range f.Services {
				out = append(out, c.serviceRequest(c.ix.service[name], ms))
			}
			return out
		}
		for _, vm := range f.VMs {
			out = append(out, icmp(vm))
		}
		return out
	}
}

// serviceRequest asks the agent to run the service's own check: an HTTP
// check for an HTTP service (a frozen VM still completes TCP handshakes in
// its kernel, so a connect alone would disagree), a TCP connect otherwise.
// HTTPS checks are confirmed by a connect: the agent speaks plain HTTP only.
func (c *confirmer) serviceRequest(s ServiceSpec, ms int) ProbeRequest {
	r := ProbeRequest{Address: c.ix.vm[s.VM].Address, Kind: "tcp", Port: s.Port, TimeoutMS: ms}
	if s.Check == KindHTTP {
		r.Kind, r.Path, r.ExpectStatus = "http", s.Path, s.ExpectStatus
	}
	return r
}
