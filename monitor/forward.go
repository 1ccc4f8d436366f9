package monitor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/understudy/understudy/ha"
	"github.com/understudy/understudy/internal/monitorapi"
	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/recover"
)

// leaderWait bounds how long a mutating call waits for some monitor to lead
// (an election in progress) before it is answered with 503.
const leaderWait = 10 * time.Second

// leaderOnly serves mutating calls (every method but GET and HEAD) here
// while this monitor leads, and forwards them to the leader otherwise.
// Reads are served by every monitor from the shared store.
func (c *Controller) leaderOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), leaderWait)
		leader, err := c.awaitRole(ctx)
		cancel()
		switch {
		case err != nil:
			c.keepSuspect(r, "while no monitor led")
			writeJSON(w, http.StatusServiceUnavailable, api.Error{Error: err.Error()})
		case leader == nil:
			next.ServeHTTP(w, r)
		case r.Header.Get(api.ForwardedHeader) != "":
			writeJSON(w, http.StatusServiceUnavailable, api.Error{Error: fmt.Sprintf("not the leader (%s leads); forwarded by %s", leader.Name, r.Header.Get(api.ForwardedHeader))})
		default:
			c.forward(w, r, *leader)
		}
	})
}

// awaitRole waits until this monitor leads (nil) or another monitor with an
// address does (that monitor), or ctx ends.
func (c *Controller) awaitRole(ctx context.Context) (*ha.Leader, error) {
	for {
		c.mu.RLock()
		t, l, changed := c.term, c.leader, c.roleChanged
		c.mu.RUnlock()
		if t != nil {
			return nil, nil
		}
		if l.Name != "" && l.Name != c.name && l.Address != "" {
			return &l, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w here yet (%s follows): %w", errNoLeader, c.name, ctx.Err())
		case <-changed:
		}
	}
}

// forward sends r to the leader and copies its answer back.
func (c *Controller) forward(w http.ResponseWriter, r *http.Request, leader ha.Leader) {
	target := c.peers.leaderURL(leader)
	rp := &httputil.ReverseProxy{
		Transport: c.peers.hc.Transport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Header.Set(api.ForwardedHeader, c.name)
		},
		ModifyResponse: func(resp *http.Response) error {
			if resp.StatusCode >= http.StatusInternalServerError {
				c.keepSuspect(r, fmt.Sprintf("the leader %s answered %s", leader.Name, resp.Status))
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			c.keepSuspect(r, fmt.Sprintf("the leader %s did not answer", leader.Name))
			writeJSON(w, http.StatusBadGateway, api.Error{Error: fmt.Sprintf("forward to leader %s at %s: %v", leader.Name, leader.Address, err)})
		},
	}
	c.metrics.forwarded.Inc()
	rp.ServeHTTP(w, r)
}

// observeLeader follows who leads until ctx ends, for forwarding, the
// epoch and the status.
func (c *Controller) observeLeader(ctx context.Context) {
	if c.elector == nil {
		return
	}
	for l := range c.elector.Observe(ctx) {
		c.mu.Lock()
		changed := l != c.leader
		c.leader = l
		if changed {
			close(c.roleChanged)
			c.roleChanged = make(chan struct{})
		}
		c.mu.Unlock()
		if changed {
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
		c.mu.RLock()
		changed := c.roleChanged
		c.mu.RUnlock()
		leader, err := c.awaitRole(ctx)
		if err != nil {
			return err
		}
		if leader == nil {
			// Logged and counted by trigger. Only a trigger that found
			// the term ended is passed on, to the next leader.
			if err = c.trigger(ctx, svc, recover.FromMonitor, reason); !errors.Is(err, errNoLeader) {
				return nil
			}
		} else if err = c.report(ctx, *leader, svc, reason); err == nil {
			return nil
		}
		c.log.Warn("failure not passed on yet; waiting for a change of leader", "service", svc, "err", err)
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (last attempt: %w)", ctx.Err(), err)
		case <-changed:
		case <-t.C:
		}
		t.Stop()
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

// leaderStatus fetches GET /v1/status from the leader (errNoLeader when
// none other than this monitor is known).
func (c *Controller) leaderStatus(ctx context.Context) (api.Status, error) {
	c.mu.RLock()
	l := c.leader
	c.mu.RUnlock()
	if l.Name == "" || l.Name == c.name || l.Address == "" {
		return api.Status{}, errNoLeader
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
