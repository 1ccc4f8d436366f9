package drill

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Run performs one drill: preflight, load, injection, the wait for recovery,
// the removal of the fault and, with cfg.Restore, the return to the primary.
//
// The fault is removed on every path out of Run once it was injected, also
// when ctx ends (Ctrl-C): the removal runs on a context of its own. A
// preflight refusal returns an ErrPreflight error and no result. After the
// injection Run always returns a result, with ctx's error when it was cut
// short.
func Run(ctx context.Context, cfg Config, d Deps) (*Result, error) {
	cfg = cfg.withDefaults()
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "drill", "service", cfg.Service, "inject", string(cfg.Kind))
	if err := checkSafety(cfg); err != nil {
		return nil, err
	}
	base, err := preflight(ctx, cfg, d)
	if err != nil {
		return nil, err
	}
	log.Info("preflight passed", "primary", cfg.Primary.Address, "answers", base.body)

	w := &watcher{base: base, primary: cfg.Primary.Address.String(), first: map[string]time.Time{}}
	load, err := StartLoad(ctx, cfg.loadConfig(), d.DNS, w.see)
	if err != nil {
		return nil, err
	}
	stopLoad := sync.OnceValue(load.Stop)
	defer stopLoad()
	sleep(ctx, cfg.Warmup)

	r := &run{cfg: cfg, d: d, log: log, base: base, w: w, res: &Result{}}
	if cfg.Marker != "" {
		r.writeMarker(ctx)
	}
	if err := r.stillPrimary(ctx); err != nil {
		return nil, err
	}
	defer r.removeFault(ctx) // the safety net; the normal path removed it already
	t0 := time.Now()
	r.t0 = t0
	w.start(t0)
	r.res = &Result{Service: cfg.Service, Inject: cfg.Kind, Via: cfg.Via, Mode: cfg.Mode, Load: cfg.Clients, Started: t0,
		Marker: r.res.Marker, Notes: r.res.Notes}
	if r.warmupNote != "" {
		r.res.Notes = append(r.res.Notes, r.warmupNote)
	}
	r.injected = true
	log.Info("injecting")
	if err := d.Fault.Inject(ctx); err != nil {
		if !r.monitorActed(ctx) {
			r.removeFault(ctx)
			r.finish(ctx, t0, stopLoad())
			return r.res, fmt.Errorf("inject %s into %q: %w", cfg.Kind, cfg.Primary.Instance, err)
		}
		// The fault took effect before the call returned: the monitor
		// fenced the primary while it was, say, still freezing.
		r.res.Notes = append(r.res.Notes, "the injection call failed after the monitor had acted: "+err.Error())
		log.Warn("injection failed after the monitor acted; observing the recovery", "err", err)
	} else {
		r.inPlace = time.Now()
		log.Info("fault in place", "ms", r.inPlace.Sub(t0).Milliseconds())
	}

	r.wait(ctx, t0)
	sleep(ctx, cfg.Tail)
	samples := stopLoad()
	r.removeFault(ctx)
	r.finish(ctx, t0, samples)
	r.checkMarker(ctx)
	if cfg.Restore && ctx.Err() == nil {
		if err := r.restore(ctx); err != nil {
			r.res.Notes = append(r.res.Notes, "restore failed: "+err.Error())
			return r.res, fmt.Errorf("restore %q: %w", cfg.Service, err)
		}
		r.res.Restored = true
	}
	return r.res, ctx.Err()
}

// run is the state of one drill after the preflight.
type run struct {
	cfg      Config
	d        Deps
	log      *slog.Logger
	base     baseline
	w        *watcher
	res      *Result
	injected bool
	removed  bool
	removeAt time.Time
	inPlace  time.Time
	t0       time.Time
	// warmupNote says what happened during the warm-up, if anything.
	warmupNote string
	markerBody string // the --marker file's content
	incident   *IncidentStatus
	early      map[string]bool // incidents that ended without a recovery during the fault
}

// removeFault removes the fault once, on a context that outlives ctx.
func (r *run) removeFault(ctx context.Context) {
	if !r.injected || r.removed {
		return
	}
	r.removed = true
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := r.d.Fault.Remove(rctx); err != nil {
		r.log.Error("could not remove the fault: remove it by hand", "err", err)
		if r.res != nil {
			r.res.Notes = append(r.res.Notes, "fault NOT removed: "+err.Error())
		}
		return
	}
	r.removeAt = time.Now()
	r.log.Info("fault removed")
}

// wait polls the monitor until the incident is over and every path was
// served by the new backend, or until the timeout or ctx's end.
func (r *run) wait(ctx context.Context, t0 time.Time) {
	ctx, cancel := context.WithDeadline(ctx, t0.Add(r.cfg.Timeout))
	defer cancel()
	paths := r.cfg.Via.Paths()
	for {
		if inc := r.poll(ctx); inc != nil {
			switch {
			case inc.Stuck != "":
				r.log.Warn("the incident is stuck", "id", inc.ID, "stuck", inc.Stuck)
				return
			case !inc.Open && inc.Result != "recovered":
				// An incident that ended without a failover (the agent still
				// reached the primary while the fault was coming into place)
				// is not the drill's end: the monitor opens another one while
				// the fault lasts. Stopping here removed the fault under the
				// next incident, which then never fenced nor activated.
				r.endedEarly(inc)
			case !inc.Open && r.w.served(paths, r.base.body != "") && !inc.FenceStopPending():
				// A primary the fence froze is force-stopped after the
				// flip: removing the fault (a thaw) before that ended
				// would let it serve again.
				return
			}
		}
		select {
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				r.log.Warn("no recovery within the timeout", "timeout", r.cfg.Timeout)
			}
			return
		case <-time.After(r.cfg.Poll):
		}
	}
}

// endedEarly notes, once per incident, one that ended without a recovery
// while the drill waits for the next.
func (r *run) endedEarly(inc *IncidentStatus) {
	if r.early == nil {
		r.early = map[string]bool{}
	}
	if r.early[inc.ID] {
		return
	}
	r.early[inc.ID] = true
	note := fmt.Sprintf("incident %s ended with %q during the fault (%s); waited for the next one", inc.ID, cmp.Or(inc.Result, "no result"), inc.Reason)
	r.res.Notes = append(r.res.Notes, note)
	r.log.Warn("an incident ended without a recovery; waiting for the next", "id", inc.ID, "result", inc.Result)
}

// poll reads the monitor's view and keeps this drill's incident.
func (r *run) poll(ctx context.Context) *IncidentStatus {
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := r.d.Monitor.Service(pctx, r.cfg.Service)
	if err != nil {
		r.log.Debug("monitor status", "err", err)
		return r.incident
	}
	// This drill's incident is a new one, opened after the injection (with
	// some slack for a monitor on another machine's clock).
	if inc := st.LastIncident; inc != nil && (inc.ID != r.base.incident || st.Incidents > r.base.incidents) &&
		!inc.Opened.Before(r.t0.Add(-clockSlack)) {
		if r.incident == nil {
			r.log.Info("incident opened", "id", inc.ID, "source", inc.Source, "reason", inc.Reason)
		}
		r.incident = inc
	}
	return r.incident
}

// clockSlack is how far before the injection the monitor's clock may date
// the incident the injection caused.
const clockSlack = 2 * time.Second

// stillPrimary checks after the warm-up that the monitor still holds the
// service on its primary. An incident that opened and ended during the
// warm-up (a false alarm, e.g. probes timing out under the load) is noted
// and becomes the baseline, so it is not taken for the drill's.
func (r *run) stillPrimary(ctx context.Context) error {
	st, err := r.d.Monitor.Service(ctx, r.cfg.Service)
	if err != nil {
		return fmt.Errorf("%w: the monitor: %w", ErrPreflight, err)
	}
	if st.State != "primary" {
		return fmt.Errorf("%w: service %q left its primary during the warm-up: state %q",
			ErrPreflight, r.cfg.Service, st.State)
	}
	if n := st.Incidents - r.base.incidents; n > 0 {
		what := ""
		if inc := st.LastIncident; inc != nil {
			r.base.incident = inc.ID
			what = fmt.Sprintf(" (last %s: %s, %s)", inc.ID, cmp.Or(inc.Result, "open"), inc.Reason)
		}
		r.warmupNote = fmt.Sprintf("the monitor opened %d incident(s) during the warm-up, before the injection%s", n, what)
		r.log.Warn(r.warmupNote)
		r.base.incidents = st.Incidents
	}
	return nil
}

// finish reads the incident a last time and builds the result.
func (r *run) finish(ctx context.Context, t0 time.Time, samples []Sample) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	r.poll(fctx)
	Analyze(r.res, t0, Timeline{
		Samples: samples, Incident: r.incident, InPlace: r.inPlace, Removed: r.removeAt,
		Primary: r.w.primary, Body: r.base.body,
	})
	if r.incident == nil {
		r.res.Notes = append(r.res.Notes, "the monitor opened no incident")
	}
	if ctx.Err() != nil {
		r.res.Notes = append(r.res.Notes, "interrupted: "+ctx.Err().Error())
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// watcher follows the samples live: when each path was first served by the
// new backend after the injection.
type watcher struct {
	base    baseline
	primary string
	mu      sync.Mutex
	t0      time.Time
	first   map[string]time.Time
}

func (w *watcher) start(t0 time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t0 = t0
}

// see is the load generator's callback.
func (w *watcher) see(s Sample) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.t0.IsZero() || s.Start.Before(w.t0) || !w.first[s.Path].IsZero() {
		return
	}
	if newBackend(s, w.primary, w.base.body) {
		w.first[s.Path] = s.Start.Add(s.Duration)
	}
}

// served reports whether every path was served by the new backend. Without
// a body that tells the copies apart, the proxy path cannot be told and
// counts as served.
func (w *watcher) served(paths []string, bodyKnown bool) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range paths {
		if p == PathProxy && !bodyKnown {
			continue
		}
		if w.first[p].IsZero() {
			return false
		}
	}
	return true
}

// monitorActed reports whether the service has left its primary state, that
// is, the monitor already opened an incident for it.
func (r *run) monitorActed(ctx context.Context) bool {
	st, err := r.d.Monitor.Service(ctx, r.cfg.Service)
	return err == nil && st.State != "primary"
}
