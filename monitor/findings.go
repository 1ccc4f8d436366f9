package monitor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"time"

	"github.com/understudy/understudy/ha"
	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/executor"
)

// findings are the failures this monitor knows of that no leader has
// taken yet: a failure its monitor confirmed (the monitor reports a
// finding once) and a proxy's suspect report that arrived while no monitor
// led (a proxy reports once per hold). A finding that waits more than the
// 30 s a trigger is tried for would otherwise be lost; instead, whenever a
// leadership starts (this monitor's term, or another leader observed), the
// open findings are passed on again (passOnFindings). A monitor finding
// closes when the monitor sees the service recover; any finding closes once
// a leader took it (or refused it in the service's state).
type findings struct {
	mu   sync.Mutex
	open map[string]finding // by service
}

// finding is one open failure of a service.
type finding struct {
	src    recover.Source // FromMonitor or FromProxy
	reason string
	at     time.Time
}

func newFindings() *findings { return &findings{open: map[string]finding{}} }

// add opens (or refreshes) the finding of svc.
func (f *findings) add(svc string, src recover.Source, reason string, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if old, ok := f.open[svc]; ok && old.src == recover.FromMonitor && src != recover.FromMonitor {
		return // the monitor's own finding says more than a proxy's
	}
	f.open[svc] = finding{src: src, reason: reason, at: at}
}

// close forgets the findings of svcs.
func (f *findings) close(svcs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range svcs {
		delete(f.open, s)
	}
}

// taken closes svc's finding if it is still the one passed on.
func (f *findings) taken(svc string, was finding) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if cur, ok := f.open[svc]; ok && cur == was {
		delete(f.open, svc)
	}
}

// list returns the open findings, by service name.
func (f *findings) list() ([]string, map[string]finding) {
	f.mu.Lock()
	defer f.mu.Unlock()
	names := make([]string, 0, len(f.open))
	out := make(map[string]finding, len(f.open))
	for s, fd := range f.open {
		names = append(names, s)
		out[s] = fd
	}
	sort.Strings(names)
	return names, out
}

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
	names, open := c.findings.list()
	for _, svc := range names {
		fd := open[svc]
		tctx, cancel := context.WithTimeout(ctx, findingTimeout)
		var err error
		if t != nil {
			err = c.trigger(tctx, svc, fd.src, fd.reason+" (passed on when the term started)")
			if errors.Is(err, recover.ErrIllegalTransition) || errors.Is(err, executor.ErrUnknownService) {
				err = nil // the leader has it, or nobody can
			}
		} else {
			err = c.reportFinding(tctx, l, svc, fd)
		}
		cancel()
		if err != nil {
			c.log.Warn("open finding not passed on; it is tried again at the next change of leader", "service", svc, "source", fd.src, "err", err)
			continue
		}
		c.findings.taken(svc, fd)
		c.log.Info("open finding passed on to a new leadership", "service", svc, "source", fd.src, "open_for", time.Since(fd.at).Round(time.Second))
	}
}

// reportFinding sends a finding to leader l as a suspect report; a monitor
// finding carries this monitor as its vantage point.
func (c *Controller) reportFinding(ctx context.Context, l ha.Leader, svc string, fd finding) error {
	if fd.src == recover.FromMonitor {
		return c.report(ctx, l, svc, fd.reason)
	}
	cl, err := c.peers.client(l)
	if err != nil {
		return fmt.Errorf("report %q to leader %s: %w", svc, l.Name, err)
	}
	resp, err := cl.Do(ctx, http.MethodPost, "/v1/services/"+url.PathEscape(svc)+"/suspect", api.TriggerRequest{Reason: fd.reason}, c.peerHeader())
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
func (c *Controller) KeepSuspect(svc, reason string) {
	if _, ok := c.plan().Services[svc]; !ok {
		return
	}
	c.findings.add(svc, recover.FromProxy, reason, time.Now())
}
