package monitor

import (
	"context"
	"fmt"
	"net/http"

	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/monitor/httpapi"
	"github.com/understudy/understudy/monitor/statuspage"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/executor"
)

// What the HTTP API (package httpapi) sees of the daemon: three small
// adapters, its Incidents (the executor of the term in force), Views (the
// reads) and Leadership (who acts), rather than the controller itself.
type (
	incidentsAPI  struct{ c *Controller }
	viewsAPI      struct{ c *Controller }
	leadershipAPI struct{ c *Controller }
)

var (
	_ httpapi.Incidents  = incidentsAPI{}
	_ httpapi.Views      = viewsAPI{}
	_ httpapi.Leadership = leadershipAPI{}
)

// newAPI builds the HTTP API part on this controller; Run calls it once the
// listener (and so api-tls) is known.
func (c *Controller) newAPI() *httpapi.Server {
	var peers http.RoundTripper // nil before Run listens (tests)
	if c.peers.hc != nil {
		peers = c.peers.hc.Transport
	}
	return httpapi.New(httpapi.Config{
		Name: c.name, Incidents: incidentsAPI{c}, Views: viewsAPI{c}, Leadership: leadershipAPI{c}, Clock: c.opts.Clock,
		Auth:     httpapi.Auth{Token: c.token, MTLS: c.mtls, MonitorCN: c.monitorCN},
		Peers:    httpapi.Peers{Scheme: c.peers.scheme, Transport: peers},
		Gatherer: c.reg, Registerer: c.reg, Keepalive: c.opts.Keepalive,
		Logger: c.opts.Logger,
		// The read-only page at / (GET only: the API's rules apply to it).
		Routes: func(mux *http.ServeMux) { statuspage.Mount(mux, c.opts.Drills) },
	})
}

// token is the bearer token of monitor.api-token-file in force.
func (c *Controller) token() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.apiToken
}

// Known reports whether the inventory in force has the service.
func (a incidentsAPI) Known(service string) bool {
	c := a.c
	_, ok := c.plan().Services[service]
	return ok
}

// Trigger hands a trigger to the executor of the term in force.
func (a incidentsAPI) Trigger(ctx context.Context, service string, src recover.Source, reason string) error {
	return a.c.trigger(ctx, service, src, reason)
}

// Leading reports whether this monitor leads now.
func (a leadershipAPI) Leading() bool {
	return a.c.roles.leading() != nil
}

// Health is the body of GET /healthz.
func (a viewsAPI) Health() api.Health {
	return api.Health{OK: true, Epoch: a.c.roles.epoch(), Monitor: a.c.name, Leader: a.c.roles.leading() != nil}
}

// State returns a service's state name, "" when unknown.
func (a incidentsAPI) State(name string) string {
	c := a.c
	e := c.roles.exec()
	if e == nil {
		return ""
	}
	for _, r := range e.Records() {
		if r.Service == name {
			return r.State.String()
		}
	}
	return ""
}

// Reset puts a service back on its primary (see POST /v1/services/{name}/reset).
// It is an executor step (recover's Reset): the primary's check first (an
// unhealthy primary refuses it with recover.ErrPrimaryUnhealthy), then the
// DNS swap back and the standby slot's reset, run on the executor's context
// behind the store's leader-guarded writes, never on this request's. It
// waits for the reset to end, or ctx (the reset goes on without it).
func (a incidentsAPI) Reset(ctx context.Context, name, reason string) error {
	c := a.c
	if !c.running() {
		return errNotRunning
	}
	t, err := c.roles.leaderTerm()
	if err != nil {
		return err
	}
	if _, ok := c.plan().Services[name]; !ok {
		return fmt.Errorf("service %q: %w", name, executor.ErrUnknownService)
	}
	if err := t.exec.Reset(ctx, name, reason); err != nil {
		return err
	}
	t.prepare.Forget(name)
	c.log.Info("service reset to its primary", "service", name, "reason", reason)
	return nil
}

// Placements returns the placement of every configured service (a service
// the store has no placement for yet is on its primary) and, when watch is
// set, the store's change channel.
func (a viewsAPI) Placements(ctx context.Context, watch bool) ([]recover.Placement, <-chan recover.Placement, error) {
	c := a.c
	if c.store == nil {
		return nil, nil, errNotRunning
	}
	var stored []recover.Placement
	var changes <-chan recover.Placement
	var err error
	if watch {
		stored, changes, err = c.store.WatchPlacements(ctx)
	} else {
		wctx, cancel := context.WithCancel(ctx)
		stored, _, err = c.store.WatchPlacements(wctx)
		cancel()
	}
	if err != nil {
		return nil, nil, err
	}
	return c.plan().Placements(stored, c.roles.epoch()), changes, nil
}
