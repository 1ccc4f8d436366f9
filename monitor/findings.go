package monitor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/understudy/understudy/ha"
	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/monitor/findings"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/executor"
)

// findingTimeout bounds one attempt to pass a finding on.
const findingTimeout = 30 * time.Second

// passOnFindings passes the open findings on each time a leadership starts,
// until ctx ends.
func (c *Controller) passOnFindings(ctx context.Context) {
	last := ""
	for {
		t, l, changed := c.roles.now()
		key := ""
		switch {
		case t != nil:
			key = fmt.Sprintf("self/%d", t.epoch)
		case l.Name != "" && l.Name != c.name && l.Address != "":
			key = fmt.Sprintf("%s/%d", l.Name, l.Rev)
		}
		if key != "" && key != last {
			last = key
			c.passOn(ctx, t, l)
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// passOn hands every open finding to term t, or to leader l when t is nil.
func (c *Controller) passOn(ctx context.Context, t *term, l ha.Leader) {
	names, open := c.findings.List()
	for _, svc := range names {
		fd := open[svc]
		tctx, cancel := context.WithTimeout(ctx, findingTimeout)
		var err error
		if t != nil {
			err = c.trigger(tctx, svc, fd.Source, fd.Reason+" (passed on when the term started)")
			if errors.Is(err, recover.ErrIllegalTransition) || errors.Is(err, executor.ErrUnknownService) {
				err = nil // the leader has it, or nobody can
			}
		} else {
			err = c.reportFinding(tctx, l, svc, fd)
		}
		cancel()
		if err != nil {
			c.log.Warn("open finding not passed on; it is tried again at the next change of leader", "service", svc, "source", fd.Source, "err", err)
			continue
		}
		c.findings.Taken(svc, fd)
		c.log.Info("open finding passed on to a new leadership", "service", svc, "source", fd.Source, "open_for", time.Since(fd.At).Round(time.Second))
	}
}

// reportFinding sends a finding to leader l as a suspect report; a monitor
// finding carries this monitor as its vantage point.
func (c *Controller) reportFinding(ctx context.Context, l ha.Leader, svc string, fd findings.Finding) error {
	if fd.Source == recover.FromMonitor {
		return c.report(ctx, l, svc, fd.Reason)
	}
	cl, err := c.peers.client(l)
	if err != nil {
		return fmt.Errorf("report %q to leader %s: %w", svc, l.Name, err)
	}
	resp, err := cl.Do(ctx, http.MethodPost, "/v1/services/"+url.PathEscape(svc)+"/suspect", api.TriggerRequest{Reason: fd.Reason}, c.peerHeader())
	if err == nil && resp.Code == http.StatusConflict {
		return nil
	}
	if err == nil {
		err = resp.Err()
	}
	if err != nil {
		return fmt.Errorf("report %q to leader %s: %w", svc, l.Name, err)
	}
	return nil
}

// KeepSuspect keeps a proxy's suspect report about svc that no leader
// took as a finding for the next leadership (httpapi.Leadership): the proxy
// reports once per hold. A report about a service the plan does not know
// is not kept (it would stay open).
func (a leadershipAPI) KeepSuspect(svc, reason string) {
	c := a.c
	if _, ok := c.plan().Services[svc]; !ok {
		return
	}
	c.findings.Add(svc, recover.FromProxy, reason, c.opts.Clock.Now())
}
