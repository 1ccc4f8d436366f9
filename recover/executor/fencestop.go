package executor

import (
	"context"
	"time"

	"github.com/understudy/understudy/recover"
)

// fenceStopTimeout bounds the background force-stop of a frozen primary.
const fenceStopTimeout = 30 * time.Second

// stopFenced force-stops the primary an incident's fence froze, in a
// goroutine of the executor's own (the incident may close, and its runner
// retire, before the stop ends), and reports the outcome to the service's
// machine as FenceStopped: the fence-stop phase, or a warning and an alert.
// A stop cut by the executor's end is not reported: it stays due
// (recover.Incident.FenceStopDue) and the next Start asks for it again.
func (e *Executor) stopFenced(a recover.StopFenced) {
	e.wg.Add(1) // the runner performing the action holds e.wg: never from zero
	go func() {
		defer e.wg.Done()
		log := e.log.With("service", a.Service, "incident", a.Incident, "hypervisor", a.Hypervisor, "instance", a.Instance)
		ctx, cancel := context.WithTimeout(e.ctx, fenceStopTimeout)
		defer cancel()
		start := e.cfg.Clock.Now()
		err := e.cfg.Deps.Fencer.ForceStop(ctx, a.Hypervisor, a.Instance)
		if err != nil && e.ctx.Err() != nil {
			// The term ended, not the stop: record nothing, so the stop
			// stays due and the next executor asks for it again.
			log.Warn("force-stop of the frozen primary cut by the executor's end; the next leader retries it", "err", err)
			return
		}
		ev := recover.FenceStopped{At: e.cfg.Clock.Now(), Incident: a.Incident}
		if err != nil {
			ev.Err = err.Error()
			log.Error("force-stop of the frozen primary failed; it stays frozen", "err", err)
		} else {
			log.Info("frozen primary force-stopped", "seconds", ev.At.Sub(start).Seconds())
		}
		e.cfg.Metrics.fenceStopped(err == nil)
		if err := e.send(e.ctx, a.Service, ev); err != nil && !recover.IsStale(err) {
			log.Warn("record the frozen primary's force-stop", "err", err)
		}
	}()
}
