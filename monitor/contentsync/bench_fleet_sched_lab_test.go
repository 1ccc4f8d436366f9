package contentsync

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// The fleet world (bench_fleet_lab_test.go) under the real schedule:
// Runner.Run with its default tick (1 s, as the daemon's), the services'
// every, and max-parallel slots, while every primary has one file (1 %)
// rewritten every every, half a period before the syncs.

// schedule is what one window of the schedule did.
type schedule struct {
	window time.Duration
	cpu    cpuSnap
	ages   map[string]*ageTrack
	// failures are the syncs that failed before the window's end (the
	// syncs its end cancels are not counted).
	failures int64
}

// ageTrack follows one service's copy age: maxAge is the oldest the copy
// was during the window, between its first good sync in the window and
// the window's end (a copy is replaced when the sync that read it ends).
type ageTrack struct {
	last   time.Time // LastGood of the current copy; zero before the first
	syncs  int
	maxAge time.Duration
}

func (a *ageTrack) observe(st Status) {
	if st.LastGood.IsZero() || st.LastGood.Equal(a.last) {
		return
	}
	if !a.last.IsZero() {
		a.maxAge = max(a.maxAge, st.LastGood.Add(st.Took).Sub(a.last))
	}
	a.last = st.LastGood
	a.syncs++
}

// schedule runs a fresh runner of the fleet at every for window with
// parallel slots, the primaries changing every every, and reports the
// CPU spent and each service's copy age.
func (w *fleetWorld) schedule(b *testing.B, every, window time.Duration, parallel int) schedule {
	b.Helper()
	r := w.runner(every)
	if err := w.change(); err != nil {
		b.Fatalf("change the primaries: %v", err)
	}
	settle()
	ages := map[string]*ageTrack{}
	for _, s := range w.services {
		ages[s] = &ageTrack{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	changed := make(chan error, 1)
	c0 := w.snap(b)
	start := time.Now()
	wg.Add(2)
	go func() { defer wg.Done(); r.Run(ctx, make(benchSlots, parallel)) }()
	go func() { defer wg.Done(); changed <- w.changeEvery(ctx, every) }()
	poll := time.NewTicker(20 * time.Millisecond) // a copy lasts at least one every (1 s): none is missed
	defer poll.Stop()
	for time.Since(start) < window {
		<-poll.C
		for _, st := range r.Statuses() {
			ages[st.Service].observe(st)
		}
	}
	end := time.Now()
	sc := schedule{window: end.Sub(start), ages: ages}
	for _, st := range r.Statuses() {
		ages[st.Service].observe(st)
		sc.failures += st.Failures
	}
	cancel()
	wg.Wait()
	sc.cpu = w.snap(b).sub(c0)
	if err := <-changed; err != nil {
		b.Fatalf("change the primaries: %v", err)
	}
	for _, a := range ages {
		if a.last.IsZero() {
			a.maxAge = sc.window // never synced in the window: at least that old
			continue
		}
		a.maxAge = max(a.maxAge, end.Sub(a.last))
	}
	return sc
}

// changeEvery changes the primaries every every, the first half a period
// after the start (between the schedule's rounds), until ctx ends.
func (w *fleetWorld) changeEvery(ctx context.Context, every time.Duration) error {
	t := time.NewTimer(every / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := w.change(); err != nil {
			return err
		}
		t.Reset(every)
	}
}

// verdict is a schedule's copy ages against bound (every + one round)
// and against bound plus the schedule's tick: the runner looks for due
// syncs once a tick and a sync is due every after it began, which is just
// after a tick, so each service's next sync starts one tick late.
type verdict struct {
	within     int           // services whose copy stayed within bound
	withinTick int           // within bound + one tick
	oldest     time.Duration // the oldest copy of any service
	minSyncs   int           // the fewest good syncs of a service
	maxAges    [][]float64   // each service's oldest copy (ms), in service order
}

func (w *fleetWorld) judge(sc schedule, bound time.Duration) verdict {
	v := verdict{minSyncs: -1}
	for _, s := range w.services {
		a := sc.ages[s]
		if a.maxAge <= bound {
			v.within++
		}
		if a.maxAge <= bound+benchTick {
			v.withinTick++
		}
		v.oldest = max(v.oldest, a.maxAge)
		if v.minSyncs < 0 || a.syncs < v.minSyncs {
			v.minSyncs = a.syncs
		}
		v.maxAges = append(v.maxAges, []float64{ms(a.maxAge)})
	}
	return v
}

// benchTick is the runner's default tick (Config.Tick), the daemon's.
const benchTick = time.Second

// pct is d as a percent of one core over window.
func pct(d, window time.Duration) float64 { return 100 * float64(d) / float64(window) }

// fleetRound measures the round the bound adds to every: the median of
// three rounds over the 24 services at max-parallel 1 with 1 % changed,
// after the first, full one.
func (w *fleetWorld) fleetRound(b *testing.B) time.Duration {
	b.Helper()
	ctx := context.Background()
	r := w.runner(time.Hour)
	if err := w.round(ctx, r, make(benchSlots, 1), benchFiles); err != nil {
		b.Fatalf("first round: %v", err)
	}
	var took []float64
	for range 3 {
		if err := w.change(); err != nil {
			b.Fatalf("change the primaries: %v", err)
		}
		t0 := time.Now()
		if err := w.round(ctx, r, make(benchSlots, 1), 1); err != nil {
			b.Fatalf("round: %v", err)
		}
		took = append(took, float64(time.Since(t0)))
	}
	return time.Duration(medianOf(took))
}

// BenchmarkSyncFleetCPULab: the standby daemon's CPU over a window
// (SYNC_FLEET_WINDOW, default 3m) idle, then over the same window with the
// schedule syncing all 24 services at every: 1m (max-parallel 1), 1 %
// changed before each sync; SYNC_FLEET_PAIRS pairs (default 1), idle
// first unless SYNC_FLEET_CPU_FIRST=sync (bench/run.sh alternates it
// between its runs), after 30 s of quiet once the fleet is made. Also the
// copies' oldest age against every + one round. Run it with -benchtime 1x.
func BenchmarkSyncFleetCPULab(b *testing.B) {
	w := newFleetWorld(b)
	round := w.fleetRound(b)
	window := envDurations(b, "SYNC_FLEET_WINDOW", "3m")[0]
	pairs := envInt(b, "SYNC_FLEET_PAIRS", 1)
	syncFirst := os.Getenv("SYNC_FLEET_CPU_FIRST") == "sync"
	const every = time.Minute
	bound := every + round
	time.Sleep(30 * time.Second) // the daemons' work after the fleet's creation ends
	var rows [][]float64
	var idlePct, syncPct, within, withinTick, failures, oldest, syncs []float64
	for range pairs {
		var sc schedule
		if syncFirst {
			sc = w.schedule(b, every, window, 1)
		}
		c0 := w.snap(b)
		t0 := time.Now()
		time.Sleep(window)
		idleWin := time.Since(t0)
		idle := w.snap(b).sub(c0)
		if !syncFirst {
			sc = w.schedule(b, every, window, 1)
		}
		v := w.judge(sc, bound)
		rows = append(rows, []float64{ms(idle.standby), ms(sc.cpu.standby), ms(sc.cpu.standby - idle.standby),
			ms(idle.primaries), ms(sc.cpu.primaries)})
		idlePct = append(idlePct, pct(idle.standby, idleWin))
		syncPct = append(syncPct, pct(sc.cpu.standby, sc.window))
		within = append(within, float64(v.within))
		withinTick = append(withinTick, float64(v.withinTick))
		failures = append(failures, float64(sc.failures))
		oldest = append(oldest, v.oldest.Seconds())
		syncs = append(syncs, float64(v.minSyncs))
	}
	printTable(fmt.Sprintf("fleet of %d services, CPU over %s idle and syncing every %s", fleetN, window, every),
		[]string{"idle_standby", "sync_standby", "sync_extra", "idle_primaries", "sync_primaries"}, rows)
	b.ReportMetric(window.Seconds(), "window-s")
	b.ReportMetric(round.Seconds(), "round-s")
	b.ReportMetric(medianOf(idlePct), "standby-cpu-pct-idle")
	b.ReportMetric(medianOf(syncPct), "standby-cpu-pct-at-1m")
	b.ReportMetric(medianOf(syncPct)-medianOf(idlePct), "standby-cpu-pct-of-sync")
	b.ReportMetric(medianOf(syncs), "syncs-per-service-min")
	b.ReportMetric(medianOf(oldest), "oldest-copy-s")
	b.ReportMetric(bound.Seconds(), "bound-s")
	b.ReportMetric(medianOf(within), "services-within-bound")
	b.ReportMetric(medianOf(withinTick), "services-within-bound+tick")
	b.ReportMetric(medianOf(failures), "failures")
	first := 0.0
	if syncFirst {
		first = 1
	}
	b.ReportMetric(first, "sync-window-first")
}

// BenchmarkSyncFleetEveryLab: the smallest every the fleet sustains. The
// schedule syncs all 24 services (max-parallel 1) at each every of
// SYNC_FLEET_EVERY (default 30s,10s,5s,2s,1s) for 3.5 periods, at least
// SYNC_FLEET_MIN_WINDOW (default 20s); per every: each service's oldest
// copy against every + one round (round-s, measured first) and against
// that plus the runner's tick (1 s; see verdict), the syncs that failed,
// and the CPU of the standby daemon and the primaries' (the changes'
// writes included) as a percent of one core. sustained is 1 when every
// service stayed within every + one round + one tick and no sync failed.
// Run it with -benchtime 1x.
func BenchmarkSyncFleetEveryLab(b *testing.B) {
	w := newFleetWorld(b)
	round := w.fleetRound(b)
	minWindow := envDurations(b, "SYNC_FLEET_MIN_WINDOW", "20s")[0]
	for _, every := range envDurations(b, "SYNC_FLEET_EVERY", "30s,10s,5s,2s,1s") {
		b.Run("every="+every.String(), func(b *testing.B) {
			window := max(every*7/2, minWindow)
			bound := every + round
			sc := w.schedule(b, every, window, 1)
			v := w.judge(sc, bound)
			printTable(fmt.Sprintf("fleet every %s, oldest copy of each of %d services", every, fleetN), []string{"oldest_copy"}, v.maxAges)
			sustained := 0.0
			if v.withinTick == fleetN && sc.failures == 0 {
				sustained = 1
			}
			b.ReportMetric(sustained, "sustained")
			b.ReportMetric(float64(v.within), "services-within-bound")
			b.ReportMetric(float64(v.withinTick), "services-within-bound+tick")
			b.ReportMetric(v.oldest.Seconds(), "oldest-copy-s")
			b.ReportMetric(bound.Seconds(), "bound-s")
			b.ReportMetric(round.Seconds(), "round-s")
			b.ReportMetric(float64(v.minSyncs), "syncs-per-service-min")
			b.ReportMetric(float64(sc.failures), "failures")
			b.ReportMetric(pct(sc.cpu.standby, sc.window), "standby-cpu-pct")
			b.ReportMetric(pct(sc.cpu.primaries, sc.window), "primaries-cpu-pct")
			b.ReportMetric(sc.window.Seconds(), "window-s")
		})
	}
}
