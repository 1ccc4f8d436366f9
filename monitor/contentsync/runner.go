package contentsync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/understudy/understudy/internal/clock"
	"github.com/understudy/understudy/lxd"
	"github.com/understudy/understudy/recover"
)

// Target is one service's sync, as the inventory in force says it.
type Target struct {
	Service string
	Paths   []string
	// WholeInstance copies the instance instead of Paths (Instances).
	WholeInstance bool
	// Standby is the service's standby VM (where a whole-instance sync
	// keeps its staging copy).
	Standby string
	Every   time.Duration
	MaxRPO  time.Duration
}

// Session is one side's file system, open for one sync.
type Session interface {
	FS
	Close() error
}

// Opener opens the two sides of a service's sync: the primary instance
// (read) and the standby container (written).
type Opener interface {
	Primary(ctx context.Context, service string) (Session, error)
	Standby(ctx context.Context, service string) (Session, error)
}

// Gate says whether a service may be synced now: nil while its primary
// serves and nothing is wrong with it (no incident, no open finding, not
// suspect), so reading the primary and writing the standby (which does not
// serve) are both safe; otherwise why not.
type Gate interface {
	MaySync(service string) error
}

// Slots are the migrations' slots (migration.max-parallel); the leader's
// executor implements it.
type Slots interface {
	Slot(ctx context.Context) (release func(), err error)
}

// ErrGateClosed: the gate refused the sync, before it began or while it
// ran (a failover started); the copy is the last good one.
var ErrGateClosed = errors.New("sync not allowed now")

// Config is what New needs.
type Config struct {
	// Targets returns the services with a sync in the inventory in force.
	Targets func() []Target
	Open    Opener
	// Instances copies the whole-instance targets; nil: they fail.
	Instances Instances
	// Stagings removes the staging copies whose whole-instance sync left
	// the inventory (staging.go); nil: none are removed.
	Stagings Stagings
	Gate     Gate
	// Limiter returns the bandwidth cap (migration.bandwidth) the syncs
	// share with the migrations' copies: one token bucket for all of them,
	// so a sync storm cannot flood the link. nil: no cap.
	Limiter func() *lxd.Limiter
	// Tick is the longest the runner waits before it looks for due syncs
	// again (default 1s); it wakes sooner when a sync falls due.
	Tick   time.Duration
	Clock  clock.Clock
	Logger *slog.Logger
}

// Status is one service's syncs so far, as this monitor saw them.
type Status struct {
	Service string
	Every   time.Duration
	MaxRPO  time.Duration
	// LastGood is when the last good sync began reading the primary: the
	// copy holds the primary's content as of then. Zero: none yet.
	LastGood time.Time
	// Took and Stats describe the last good sync.
	Took  time.Duration
	Stats Stats
	// LastTry is when the last sync began; LastError says why it failed
	// (empty when it succeeded).
	LastTry   time.Time
	LastError string
	// Blocked is the gate's reason while it refuses syncs.
	Blocked string
	Running bool
	// Totals since this monitor started leading.
	Runs, Failures int64
	SentBytes      int64
	// Since is when this monitor began syncing the service: without a good
	// sync, the RPO counts as exceeded max-rpo after Since.
	Since time.Time
}

// Age is how old the copy is at now; false without a good sync.
func (s Status) Age(now time.Time) (time.Duration, bool) {
	if s.LastGood.IsZero() {
		return 0, false
	}
	return now.Sub(s.LastGood), true
}

// Exceeded says whether the copy is older than max-rpo at now, counting a
// service never synced since Since as exceeded once max-rpo has passed.
func (s Status) Exceeded(now time.Time) bool {
	if age, ok := s.Age(now); ok {
		return age > s.MaxRPO
	}
	return !s.Since.IsZero() && now.Sub(s.Since) > s.MaxRPO
}

// Runner keeps the services' copies fresh while its Run lasts (the
// leader's term) and keeps their statuses across terms. Safe for
// concurrent use.
type Runner struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	status  map[string]*Status
	running map[string]*run // running syncs
	sweep   sweepState      // of the staging copies (staging.go)
}

// run is one running sync: its cancel, and done closed once it returned.
type run struct {
	cancel context.CancelCauseFunc
	done   chan struct{}
}

// New returns a runner; Run syncs.
func New(cfg Config) *Runner {
	if cfg.Clock == nil {
		cfg.Clock = clock.Wall
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Tick <= 0 {
		cfg.Tick = time.Second
	}
	if cfg.Limiter == nil {
		uncapped := lxd.NewLimiter(0)
		cfg.Limiter = func() *lxd.Limiter { return uncapped }
	}
	return &Runner{cfg: cfg, log: cfg.Logger.With("component", "sync"), status: map[string]*Status{}, running: map[string]*run{}}
}

// Run starts every due sync, one at a time per service, each holding one
// of slots while it copies, until ctx ends; then it cancels the running
// syncs and returns once they stopped.
func (r *Runner) Run(ctx context.Context, slots Slots) {
	var wg sync.WaitGroup
	defer wg.Wait()
	r.mu.Lock()
	r.sweep.ok, r.sweep.retry = false, time.Time{} // a new term sweeps: the inventory may have changed meanwhile
	r.mu.Unlock()
	for {
		targets := r.cfg.Targets()
		due, next := r.due(targets)
		for _, t := range due {
			wg.Add(1)
			go func() { defer wg.Done(); _, _ = r.syncOnce(ctx, t, slots) }()
		}
		if r.sweepDue(targets, r.cfg.Clock.Now()) {
			wg.Add(1)
			go func() { defer wg.Done(); r.sweepOnce(ctx) }()
		}
		select {
		case <-ctx.Done():
			return
		case <-r.cfg.Clock.After(next):
		}
	}
}

// due returns the targets whose next sync is due now, marked running, and
// how long until the next one of the others is due (at most Tick, so that
// a new target or a finished sync is seen within Tick): a sync starts when
// it is due, not at the next tick after. It forgets the services that left
// the inventory.
func (r *Runner) due(targets []Target) ([]Target, time.Duration) {
	now := r.cfg.Clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	keep := map[string]bool{}
	var out []Target
	next := r.cfg.Tick
	for _, t := range targets {
		keep[t.Service] = true
		st := r.statusLocked(t, now)
		if st.Running {
			continue
		}
		if !st.LastTry.IsZero() && now.Sub(st.LastTry) < t.Every {
			next = min(next, st.LastTry.Add(t.Every).Sub(now))
			continue
		}
		st.Running = true
		out = append(out, t)
	}
	for name := range r.status {
		if !keep[name] {
			delete(r.status, name)
		}
	}
	return out, next
}

// statusLocked returns t's status, created on first use. r.mu is held.
func (r *Runner) statusLocked(t Target, now time.Time) *Status {
	st, ok := r.status[t.Service]
	if !ok {
		st = &Status{Service: t.Service, Since: now}
		r.status[t.Service] = st
	}
	st.Every, st.MaxRPO = t.Every, t.MaxRPO
	return st
}

// SyncNow runs one sync of target t now, unless one is running (then it
// returns an error saying so), and returns what it did. Tests, and the
// schedule, use it.
func (r *Runner) SyncNow(ctx context.Context, t Target, slots Slots) (Stats, error) {
	r.mu.Lock()
	st := r.statusLocked(t, r.cfg.Clock.Now())
	if st.Running {
		r.mu.Unlock()
		return Stats{}, fmt.Errorf("sync %q: one is running", t.Service)
	}
	st.Running = true
	r.mu.Unlock()
	return r.syncOnce(ctx, t, slots)
}

// syncOnce runs one sync of t, which due or SyncNow marked running.
func (r *Runner) syncOnce(ctx context.Context, t Target, slots Slots) (Stats, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	me := &run{cancel: cancel, done: make(chan struct{})}
	r.mu.Lock()
	r.running[t.Service] = me
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.running, t.Service)
		if st, ok := r.status[t.Service]; ok {
			st.Running = false
		}
		r.mu.Unlock()
		close(me.done)
	}()
	gate := func() error {
		if err := r.cfg.Gate.MaySync(t.Service); err != nil {
			return fmt.Errorf("%w: %v", ErrGateClosed, err)
		}
		return nil
	}
	if err := gate(); err != nil {
		r.update(t.Service, func(st *Status) { st.Blocked = err.Error() })
		return Stats{}, err
	}
	if slots != nil {
		sctx, scancel := context.WithTimeout(ctx, t.Every)
		release, err := slots.Slot(sctx)
		scancel()
		if err != nil {
			err = fmt.Errorf("sync %q: wait for a migration slot: %w", t.Service, err)
			r.finish(t, r.cfg.Clock.Now(), 0, Stats{}, err)
			return Stats{}, err
		}
		defer release()
	}
	start := r.cfg.Clock.Now()
	r.update(t.Service, func(st *Status) { st.Blocked, st.LastTry = "", start })
	stats, err := r.copy(ctx, t, gate)
	if cause := context.Cause(ctx); err != nil && errors.Is(cause, ErrGateClosed) {
		err = fmt.Errorf("sync %q: %w", t.Service, cause) // Cancel's reason, not the read it cut
	}
	took := r.cfg.Clock.Now().Sub(start)
	r.finish(t, start, took, stats, err)
	return stats, err
}

// copy opens both sides and copies every path of t, or the whole
// instance (instance.go).
func (r *Runner) copy(ctx context.Context, t Target, gate func() error) (Stats, error) {
	if t.WholeInstance {
		return r.copyInstance(ctx, t, gate)
	}
	src, err := r.cfg.Open.Primary(ctx, t.Service)
	if err != nil {
		return Stats{}, fmt.Errorf("sync %q: open the primary: %w", t.Service, err)
	}
	defer src.Close()
	guard, sctx := newStandbyGuard(ctx)
	defer guard.close()
	dst, err := r.cfg.Open.Standby(sctx, t.Service)
	if err != nil {
		return Stats{}, fmt.Errorf("sync %q: open the standby: %w", t.Service, err)
	}
	defer dst.Close()
	lim := r.cfg.Limiter()
	o := copyOptions{
		Read:  func(rd io.Reader) io.Reader { return &gatedReader{r: lim.Reader(ctx, rd), gate: gate} },
		Check: gate,
		Swap:  guard.begin,
	}
	var total Stats
	for _, p := range t.Paths {
		if err := ctx.Err(); err != nil { // cancelled during the last path's swap
			return total, fmt.Errorf("sync %q: %w", t.Service, err)
		}
		st, err := copyPath(ctx, src, dst, p, o)
		total.add(st)
		if err != nil {
			return total, fmt.Errorf("sync %q: %s: %w", t.Service, p, err)
		}
	}
	return total, nil
}

// finish records a sync's outcome.
func (r *Runner) finish(t Target, start time.Time, took time.Duration, stats Stats, err error) {
	r.update(t.Service, func(st *Status) {
		st.Runs++
		st.SentBytes += stats.Sent
		if err != nil {
			st.Failures++
			st.LastError = err.Error()
			return
		}
		st.LastGood, st.Took, st.Stats, st.LastError = start, took, stats, ""
	})
	if err != nil {
		r.log.Warn("sync failed; the standby keeps the last good copy", "service", t.Service, "err", err)
		return
	}
	r.log.Debug("synced", "service", t.Service, "files", stats.Files, "bytes", stats.Bytes,
		"changed", stats.Changed, "sent_bytes", stats.Sent, "swapped", stats.Swapped, "took", took)
}

func (r *Runner) update(service string, f func(*Status)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st, ok := r.status[service]; ok {
		f(st)
	}
}

// Cancel stops service's running sync, if any, for reason (a failover
// began: the gate refuses it too, this makes it stop at once); the sync
// fails with ErrGateClosed.
// A swap already begun finishes first (bounded by swapTimeout); Stop waits
// for it.
func (r *Runner) Cancel(service, reason string) {
	r.cancelRun(service, reason)
}

// stopWait bounds Stop's wait: a swap's bound and a margin for the sync
// to return once its sessions are cut.
const stopWait = swapTimeout + 5*time.Second

// ErrStillRunning: Stop's wait ended before the sync returned.
var ErrStillRunning = errors.New("sync still running")

// Stop cancels service's running sync, if any, like Cancel, and returns
// once it returned (a swap it began is finished), so nothing writes the
// standby after Stop; ErrStillRunning when it did not return within
// stopWait. Do not call it from the sync itself.
func (r *Runner) Stop(service, reason string) error {
	done := r.cancelRun(service, reason)
	if done == nil {
		return nil
	}
	t := time.NewTimer(stopWait)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
		return fmt.Errorf("stop the sync of %q: %w after %s", service, ErrStillRunning, stopWait)
	}
}

// cancelRun cancels service's running sync and returns its done channel;
// nil when none runs.
func (r *Runner) cancelRun(service, reason string) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	ru, ok := r.running[service]
	if !ok {
		return nil
	}
	ru.cancel(fmt.Errorf("%w: %s", ErrGateClosed, reason))
	return ru.done
}

// Status returns service's status; false for a service without sync (or
// not looked at yet).
func (r *Runner) Status(service string) (Status, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, ok := r.status[service]
	if !ok {
		return Status{}, false
	}
	return *st, true
}

// Statuses returns every status, sorted by service.
func (r *Runner) Statuses() []Status {
	r.mu.Lock()
	out := make([]Status, 0, len(r.status))
	for _, st := range r.status {
		out = append(out, *st)
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out
}

// CopyAge is the recovery point of service at moment at, for its incident
// (executor Config.CopyAge): nil for a service without sync.
func (r *Runner) CopyAge(service string, at time.Time) *recover.CopyAge {
	st, ok := r.Status(service)
	if !ok {
		return nil
	}
	c := &recover.CopyAge{SyncedAt: st.LastGood, MaxRPO: st.MaxRPO, Bytes: st.Stats.Bytes}
	if age, ok := st.Age(at); ok {
		c.Age = age.Round(time.Millisecond)
	}
	return c
}

// gateEvery is how many bytes a copy reads between two questions to the
// gate.
const gateEvery = 1 << 20

// gatedReader asks the gate before the first read and then every
// gateEvery bytes, so a failover stops a long file's copy within a MiB.
type gatedReader struct {
	r    io.Reader
	gate func() error
	left int // bytes until the next question
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if g.left <= 0 {
		if err := g.gate(); err != nil {
			return 0, err
		}
		g.left = gateEvery
	}
	n, err := g.r.Read(p)
	g.left -= n
	return n, err
}
