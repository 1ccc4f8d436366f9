package drill

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// HostConfig is a drill of a whole hypervisor: one fault (host-down) that
// takes every selected service's primary down at once, with load on each.
type HostConfig struct {
	// Hypervisor is the drilled hypervisor's name.
	Hypervisor string
	// Services are the drills of the services it runs (Config.Kind HostDown,
	// no Neighbours), each with its own load, preflight and restore. Their
	// Timeout, Warmup, Tail, Poll and Restore are the first one's.
	Services []Config
	// Parallel bounds the preflights and the restores that run at once
	// (default 4).
	Parallel int
}

// HostResult is the outcome of one host drill: every service's own result
// and what they add up to. Its JSON names are read by other tools (the
// bench's summary, the history): keep them stable (README.md).
type HostResult struct {
	Hypervisor string    `json:"hypervisor"`
	Inject     Kind      `json:"inject"`
	Via        Via       `json:"via"`
	Verdict    string    `json:"verdict"` // recovered when every service recovered
	Started    time.Time `json:"started"`
	Load       int       `json:"load"` // clients per path and service
	// Total is the number of services drilled, Recovered how many of them
	// every client path saw served again.
	Total     int `json:"services_total"`
	Recovered int `json:"services_recovered"`
	// AllServedMS is when every service was served again on every path, in
	// ms from the injection; null when one never was. P50MS and P95MS are
	// the median and the 95th percentile (nearest rank) of the services'
	// recovery_ms, over those that recovered.
	AllServedMS *int64 `json:"all_served_ms"`
	P50MS       *int64 `json:"p50_ms"`
	P95MS       *int64 `json:"p95_ms"`
	// Requests adds up the services' requests per path.
	Requests Requests `json:"requests"`
	// Steps is every step of the recovery with its median and maximum
	// over the services; SlowestStep names the one with the largest median.
	Steps       []StepStat `json:"steps"`
	SlowestStep string     `json:"slowest_step,omitempty"`
	// FaultInPlace and FaultRemoved are the host fault's, as in Phases.
	FaultInPlace *int64 `json:"fault_in_place"`
	FaultRemoved *int64 `json:"fault_removed"`
	// Restored is true when --restore returned every service to its primary.
	Restored bool     `json:"restored,omitempty"`
	Notes    []string `json:"notes,omitempty"`
	// Services are the per-service results, in the order of HostConfig.Services.
	Services []Result `json:"services"`
}

// StepStat is one step of the recovery (from one phase to the next) over
// the services of a host drill that went through both phases.
type StepStat struct {
	Name     string `json:"name"`
	From     string `json:"from"`
	To       string `json:"to"`
	N        int    `json:"n"`
	MedianMS int64  `json:"median_ms"`
	MaxMS    int64  `json:"max_ms"`
}

// RunHost performs a host drill: the preflight of every service, load on
// every one, one injection of d.Fault (which must take them all down, as
// host-down of their hypervisor does), the wait until every service is
// served again or the timeout, the fault's removal and, with Restore, the
// return of every service to its primary. d.Agent answers for every
// service's standby, d.Hypervisor is the drilled hypervisor.
//
// As Run: the fault is removed on every way out once injected; a refused
// preflight returns an ErrPreflight error naming each service's reasons
// and no result; after the injection there is always a result.
func RunHost(ctx context.Context, cfg HostConfig, d Deps) (*HostResult, error) {
	if len(cfg.Services) == 0 {
		return nil, fmt.Errorf("host drill of %q: no services", cfg.Hypervisor)
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 4
	}
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "drill", "hypervisor", cfg.Hypervisor)
	d.Monitor = newSharedStatus(d.Monitor, 50*time.Millisecond)
	runs := make([]*run, len(cfg.Services))
	for i, c := range cfg.Services {
		c = c.withDefaults()
		c.Neighbours = nil
		if err := checkSafety(c); err != nil {
			return nil, err
		}
		runs[i] = &run{cfg: c, d: d, log: log.With("service", c.Service)}
	}
	first := runs[0].cfg
	if err := hostPreflight(ctx, runs, cfg.Parallel); err != nil {
		return nil, err
	}
	log.Info("preflight passed", "services", len(runs))

	stops := make([]func() []Sample, len(runs))
	defer func() {
		for _, s := range stops {
			if s != nil {
				s()
			}
		}
	}()
	for i, r := range runs {
		r.w = &watcher{base: r.base, primary: r.cfg.Primary.Address.String(), first: map[string]time.Time{}}
		load, err := StartLoad(ctx, r.cfg.loadConfig(), d.DNS, r.w.see)
		if err != nil {
			return nil, fmt.Errorf("load on %q: %w", r.cfg.Service, err)
		}
		stops[i] = sync.OnceValue(load.Stop)
	}
	sleep(ctx, first.Warmup)
	var refused []string
	for _, r := range runs {
		if err := r.stillPrimary(ctx); err != nil {
			refused = append(refused, r.cfg.Service+": "+strings.TrimPrefix(err.Error(), ErrPreflight.Error()+": "))
		}
	}
	if len(refused) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrPreflight, strings.Join(refused, "; "))
	}

	h := &hostRun{cfg: cfg, d: d, log: log, runs: runs}
	defer h.removeFault(ctx) // the safety net; the normal path removed it already
	t0 := time.Now()
	h.res = &HostResult{Hypervisor: cfg.Hypervisor, Inject: first.Kind, Via: first.Via, Load: first.Clients, Started: t0, Total: len(runs)}
	for _, r := range runs {
		r.t0 = t0
		r.w.start(t0)
		r.res = &Result{Service: r.cfg.Service, Inject: r.cfg.Kind, Via: r.cfg.Via, Mode: r.cfg.Mode,
			Load: r.cfg.Clients, Started: t0, Host: cfg.Hypervisor}
		if r.warmupNote != "" {
			r.res.Notes = append(r.res.Notes, r.warmupNote)
		}
	}
	h.injected = true
	log.Info("injecting", "inject", string(first.Kind), "services", len(runs))
	if err := d.Fault.Inject(ctx); err != nil {
		if !h.anyActed(ctx) {
			h.removeFault(ctx)
			h.finish(ctx, t0, stops)
			return h.res, fmt.Errorf("inject %s into %q: %w", first.Kind, cfg.Hypervisor, err)
		}
		h.res.Notes = append(h.res.Notes, "the injection call failed after the monitor had acted: "+err.Error())
	} else {
		h.inPlace = time.Now()
		log.Info("fault in place", "ms", h.inPlace.Sub(t0).Milliseconds())
	}

	var wg sync.WaitGroup
	for _, r := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.wait(ctx, t0)
		}()
	}
	wg.Wait()
	sleep(ctx, first.Tail)
	h.finish(ctx, t0, stops)
	if first.Restore && ctx.Err() == nil {
		if err := h.restore(ctx); err != nil {
			h.res.Notes = append(h.res.Notes, "restore failed: "+err.Error())
			return h.res, fmt.Errorf("restore the services of %q: %w", cfg.Hypervisor, err)
		}
		h.res.Restored = true
	}
	return h.res, ctx.Err()
}

// hostPreflight runs every service's preflight, at most parallel at once,
// and refuses with every service's reasons.
func hostPreflight(ctx context.Context, runs []*run, parallel int) error {
	errs := make([]error, len(runs))
	eachBounded(len(runs), parallel, func(i int) {
		r := runs[i]
		r.base, errs[i] = preflight(ctx, r.cfg, r.d)
	})
	var reasons []string
	for i, err := range errs {
		if err != nil {
			reasons = append(reasons, runs[i].cfg.Service+": "+strings.TrimPrefix(err.Error(), ErrPreflight.Error()+": "))
		}
	}
	if len(reasons) > 0 {
		return fmt.Errorf("%w: %s", ErrPreflight, strings.Join(reasons, "; "))
	}
	return nil
}

// eachBounded calls fn(0..n-1), at most parallel at once, and returns when
// every call has.
func eachBounded(n, parallel int, fn func(int)) {
	sem := make(chan struct{}, max(parallel, 1))
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(i)
		}()
	}
	wg.Wait()
}

// hostRun is the state of one host drill after the preflight.
type hostRun struct {
	cfg      HostConfig
	d        Deps
	log      *slog.Logger
	runs     []*run
	res      *HostResult
	injected bool
	removed  bool
	inPlace  time.Time
	removeAt time.Time
}

// removeFault removes the host fault once, on a context that outlives ctx.
func (h *hostRun) removeFault(ctx context.Context) {
	if !h.injected || h.removed {
		return
	}
	h.removed = true
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := h.d.Fault.Remove(rctx); err != nil {
		h.log.Error("could not remove the fault: remove it by hand", "err", err)
		if h.res != nil {
			h.res.Notes = append(h.res.Notes, "fault NOT removed: "+err.Error())
		}
		return
	}
	h.removeAt = time.Now()
	h.log.Info("fault removed")
}

// anyActed reports whether the monitor has taken any service off its primary.
func (h *hostRun) anyActed(ctx context.Context) bool {
	for _, r := range h.runs {
		if r.monitorActed(ctx) {
			return true
		}
	}
	return false
}

// finish stops the load, removes the fault and analyses every service.
func (h *hostRun) finish(ctx context.Context, t0 time.Time, stops []func() []Sample) {
	samples := make([][]Sample, len(stops))
	for i, s := range stops {
		samples[i] = s()
	}
	h.removeFault(ctx)
	for i, r := range h.runs {
		r.inPlace, r.removeAt = h.inPlace, h.removeAt
		r.finish(ctx, t0, samples[i])
	}
	h.res.Services = make([]Result, len(h.runs))
	for i, r := range h.runs {
		h.res.Services[i] = *r.res
	}
	Summarize(h.res)
	h.res.FaultInPlace = ms(t0, h.inPlace)
	h.res.FaultRemoved = ms(t0, h.removeAt)
}

// restore returns every service to its primary, at most Parallel at once,
// and names every one it could not.
func (h *hostRun) restore(ctx context.Context) error {
	errs := make([]error, len(h.runs))
	eachBounded(len(h.runs), h.cfg.Parallel, func(i int) {
		r := h.runs[i]
		if errs[i] = r.restoreOne(ctx, r.cfg); errs[i] == nil {
			h.res.Services[i].Restored = true
		} else {
			errs[i] = fmt.Errorf("%s: %w", r.cfg.Service, errs[i])
		}
	})
	return errors.Join(errs...)
}
