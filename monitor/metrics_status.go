package monitor

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/understudy/understudy/internal/tlsfiles"
	"github.com/understudy/understudy/monitor/prepare"
	"github.com/understudy/understudy/monitor/signals"
	"github.com/understudy/understudy/recover"
)

// statusSource is what the status collector (package signals) reads of
// the controller.
type statusSource struct{ c *Controller }

func (s statusSource) Running() bool { return s.c.running() }
func (s statusSource) Epoch() uint64 { return s.c.roles.epoch() }
func (s statusSource) Verify() bool  { return len(s.c.plan().Inv.DNS.Verify) > 0 }
func (s statusSource) Standby(service string) string {
	return s.c.plan().Standbys[service]
}

// Leading returns the term in force (an untyped nil while following).
func (s statusSource) Leading() signals.Term {
	if t := s.c.roles.leading(); t != nil {
		return termSignals{t}
	}
	return nil
}

// termSignals is what the status collector reads of a term.
type termSignals struct{ t *term }

func (v termSignals) Records() []recover.Record             { return v.t.exec.Records() }
func (v termSignals) Prepared(service string) prepare.State { return v.t.prepare.Get(service) }
func (v termSignals) CaughtUp(rec recover.Record) bool      { return v.t.dnsCheck.CaughtUp(rec) }

// recheckDNS runs the term's DNS rechecks while the inventory has
// dns.verify servers (each round reads the inventory in force).
func (c *Controller) recheckDNS(t *term) func(context.Context) {
	return func(ctx context.Context) {
		t.dnsCheck.Run(ctx, func() []recover.Record {
			if len(c.plan().Inv.DNS.Verify) == 0 {
				return nil
			}
			return t.exec.Records()
		}, func(service string) string {
			return c.plan().Services[service].Service.FQDN
		})
	}
}

// registerObservability registers the collectors the dashboard and the
// alert rules read beyond the counters: the status collector and the
// certificates this monitor serves and presents.
func (c *Controller) registerObservability() {
	c.reg.MustRegister(signals.NewCollector(statusSource{c}, c.opts.Clock), tlsfiles.NewExpiryCollector(c.certFiles))
}

// MustRegister adds collectors to the monitor's /metrics (the command adds
// the drill history's, package drill being above this one); it panics on a
// collector already registered, like prometheus.Registry.MustRegister.
func (c *Controller) MustRegister(cs ...prometheus.Collector) { c.reg.MustRegister(cs...) }

// StateDir is monitor.state-dir of the inventory in force.
func (c *Controller) StateDir() string { return c.plan().Inv.Monitor.StateDir }

// certFiles are the certificates of the inventory in force: the API's
// (served, and presented to peers) and the one presented to the agents.
func (c *Controller) certFiles() []tlsfiles.CertFile {
	m := c.plan().Inv.Monitor
	var out []tlsfiles.CertFile
	if m.APITLS.Cert != "" {
		out = append(out, tlsfiles.CertFile{Role: "monitor-api", Path: m.APITLS.Cert})
	}
	if m.AgentTLS.Cert != "" {
		out = append(out, tlsfiles.CertFile{Role: "monitor-agent-client", Path: m.AgentTLS.Cert})
	}
	return out
}
