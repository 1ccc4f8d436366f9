package monitor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/understudy/understudy/ha"
	"github.com/understudy/understudy/internal/monitorapi"
	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/monitor/httpapi"
	"github.com/understudy/understudy/recover"
)

// AwaitRole waits until this monitor leads (nil) or another monitor with an
// address does (that monitor), or ctx ends.
func (a leadershipAPI) AwaitRole(ctx context.Context) (*ha.Leader, error) {
	c := a.c
	return c.roles.await(ctx)
}

// observeLeader follows who leads until ctx ends, for forwarding, the
// epoch and the status.
func (c *Controller) observeLeader(ctx context.Context) {
	if c.elector == nil {
		return
	}
	for l := range c.elector.Observe(ctx) {
		if c.roles.observe(l) {
			c.log.Info("leader observed", "leader", l.Name, "address", l.Address, "epoch", l.Rev)
		}
	}
}

// triggerOrReport hands a failure the monitor confirmed to the executor
// while this monitor leads. A follower passes it to the leader as a suspect
// report instead (one vantage point more for the leader's confirm step);
// when the report fails (the leader died), it waits for a change of leader
// and tries again, until ctx ends.
func (c *Controller) triggerOrReport(ctx context.Context, svc, reason string) error {
	for {
		_, _, changed := c.roles.now()
		leader, err := leadershipAPI{c}.AwaitRole(ctx)
		if err != nil {
			return err
		}
		if leader == nil {
			// Logged and counted by trigger. Only a trigger that found
			// the term ended is passed on, to the next leader.
			if err = c.trigger(ctx, svc, recover.FromMonitor, reason); !errors.Is(err, httpapi.ErrNoLeader) {
				return nil
			}
		} else if err = c.report(ctx, *leader, svc, reason); err == nil {
			return nil
		}
		c.log.Warn("failure not passed on yet; waiting for a change of leader", "service", svc, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last attempt: %w)", ctx.Err(), err)
		case <-changed:
		case <-c.opts.Clock.After(time.Second):
		}
	}
}

// report sends a suspect report about svc to the leader.
func (c *Controller) report(ctx context.Context, leader ha.Leader, svc, reason string) error {
	cl, err := c.peers.client(leader)
	if err != nil {
		return fmt.Errorf("report %q to leader %s: %w", svc, leader.Name, err)
	}
	hdr := c.peerHeader()
	if c.mtls { // only the monitors' certificate makes the leader count it (auth.go)
		hdr.Set(api.VantageHeader, c.name)
	}
	body := api.TriggerRequest{Reason: fmt.Sprintf("monitor %s: %s", c.name, reason)}
	resp, err := cl.Do(ctx, http.MethodPost, "/v1/services/"+url.PathEscape(svc)+"/suspect", body, hdr)
	if err == nil && resp.Code == http.StatusConflict {
		return nil // the service is already in an incident, or off its primary: the leader knows
	}
	if err == nil {
		err = resp.Err()
	}
	if err != nil {
		return fmt.Errorf("report %q to leader %s: %w", svc, leader.Name, err)
	}
	c.log.Info("failure reported to the leader", "service", svc, "leader", leader.Name)
	return nil
}

// leaderStatusTimeout bounds a follower's wait for the leader's status.
const leaderStatusTimeout = 2 * time.Second

// LeaderStatus fetches GET /v1/status from the leader (httpapi.ErrNoLeader when
// none other than this monitor is known).
func (a viewsAPI) LeaderStatus(ctx context.Context) (api.Status, error) {
	c := a.c
	_, l, _ := c.roles.now()
	if l.Name == "" || l.Name == c.name || l.Address == "" {
		return api.Status{}, httpapi.ErrNoLeader
	}
	ctx, cancel := context.WithTimeout(ctx, leaderStatusTimeout)
	defer cancel()
	cl, err := c.peers.client(l)
	if err != nil {
		return api.Status{}, fmt.Errorf("ask leader %s for its status: %w", l.Name, err)
	}
	resp, err := cl.Do(ctx, http.MethodGet, "/v1/status", nil, c.peerHeader())
	if err == nil && resp.Code != http.StatusOK {
		err = &monitorapi.StatusError{Base: cl.Base(), Code: resp.Code, Status: resp.Status}
	}
	if err != nil {
		return api.Status{}, fmt.Errorf("ask leader %s for its status: %w", l.Name, err)
	}
	var st api.Status
	if err := resp.JSON(&st); err != nil {
		return api.Status{}, fmt.Errorf("the status of leader %s: %w", l.Name, err)
	}
	return st, nil
}

// peerHeader is the header of this monitor's own calls to its leader: the
// forwarded mark and, without api-tls, the bearer token.
func (c *Controller) peerHeader() http.Header {
	hdr := http.Header{}
	hdr.Set(api.ForwardedHeader, c.name)
	c.mu.RLock()
	tok := c.apiToken
	c.mu.RUnlock()
	if tok != "" && !c.mtls {
		hdr.Set("Authorization", "Bearer "+tok)
	}
	return hdr
}
