package monitor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/understudy/understudy/monitor/findings"
	"github.com/understudy/understudy/monitor/probe"
	"github.com/understudy/understudy/recover"
	"github.com/understudy/understudy/recover/executor"
)

// consume turns the monitor's events into triggers until ctx ends. Each
// trigger is sent from its own goroutine (owned by wg), so a busy incident
// never holds up the monitor's evaluation loop.
func (c *Controller) consume(ctx context.Context, events <-chan probe.Event, wg *sync.WaitGroup) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-events:
			c.handleEvent(ctx, ev, wg)
		}
	}
}

func (c *Controller) handleEvent(ctx context.Context, ev probe.Event, wg *sync.WaitGroup) {
	log := c.log.With("event", ev.Kind.String(), "services", ev.Services, "vms", ev.VMs)
	switch {
	case ev.Kind == probe.Recovered:
		c.forgetConfirmations(ev.Services)
		c.findings.Close(ev.Services...)
		c.gate.Forget(ev.Services...)
		log.Info("monitor: recovered", "of", ev.Of.String(), "reason", ev.Reason)
		return
	case !ev.Kind.IsFailure():
		log.Warn("monitor: no failover", "of", ev.Of.String(), "reason", ev.Reason)
		return
	}
	log.Warn("monitor: failure confirmed", "reason", ev.Reason)
	p := c.plan()
	reason := fmt.Sprintf("%s: %s", ev.Kind, ev.Reason)
	// All of a host's services at once: the first to reach its activate
	// step must not take the place of one of higher priority.
	c.gate.Register(ev.Services...)
	for _, svc := range ev.Services {
		if cfg, ok := p.Services[svc]; ok && cfg.Service.Confirm == "agent" {
			c.rememberConfirmation(svc, ev.At)
		}
		fd := findings.Finding{Source: recover.FromMonitor, Reason: reason, At: ev.At}
		c.findings.Add(svc, fd.Source, fd.Reason, fd.At)
		wg.Add(1)
		go func() {
			defer wg.Done()
			tctx, cancel := context.WithTimeout(ctx, findingTimeout)
			defer cancel()
			if err := c.triggerOrReport(tctx, svc, reason); err != nil {
				c.log.Warn("failure not passed on yet; kept open for the next leadership", "service", svc, "err", err)
				return
			}
			c.findings.Taken(svc, fd)
		}()
	}
}

// trigger hands a trigger to the executor and counts it.
func (c *Controller) trigger(ctx context.Context, svc string, src recover.Source, reason string) error {
	t, err := c.roles.leaderTerm()
	if err == nil {
		err = t.exec.Trigger(ctx, svc, src, reason)
		if err != nil && c.roles.leading() != t {
			err = fmt.Errorf("%w: the term ended under the trigger: %w", errNoLeader, err)
		}
	}
	result := "accepted"
	switch {
	case err == nil:
		c.log.Info("trigger accepted", "service", svc, "source", src, "reason", reason)
	case errors.Is(err, recover.ErrIllegalTransition):
		result = "refused"
		c.log.Info("trigger refused in this state", "service", svc, "source", src, "err", err)
	case errors.Is(err, executor.ErrUnknownService):
		result = "unknown"
		c.log.Warn("trigger for an unknown service", "service", svc, "source", src)
	case errors.Is(err, errNoLeader):
		result = "not-leader"
		c.log.Info("trigger not taken: this monitor no longer leads", "service", svc, "source", src, "err", err)
	default:
		result = "error"
		c.log.Error("trigger failed", "service", svc, "source", src, "err", err)
	}
	c.metrics.triggers.WithLabelValues(string(src), result).Inc()
	return err
}

// confirmationTTL is how long the monitor's agent confirmation of a failure
// stands in for recover's confirm step.
func (c *Controller) confirmationTTL() time.Duration {
	t := c.plan().Monitor.Timing
	return max(5*time.Second, 4*time.Duration(t.Fails)*t.Interval)
}

func (c *Controller) rememberConfirmation(svc string, at time.Time) {
	c.mu.Lock()
	c.confirmed[svc] = at
	c.mu.Unlock()
}

func (c *Controller) forgetConfirmations(svcs []string) {
	c.mu.Lock()
	for _, s := range svcs {
		delete(c.confirmed, s)
	}
	c.mu.Unlock()
}

// confirmedAt returns when the monitor's agent confirmed svc down, if that is
// recent enough to count.
func (c *Controller) confirmedAt(svc string) (time.Time, bool) {
	ttl := c.confirmationTTL()
	c.mu.RLock()
	at, ok := c.confirmed[svc]
	c.mu.RUnlock()
	if !ok || c.opts.Clock.Now().Sub(at) > ttl {
		return time.Time{}, false
	}
	return at, true
}
