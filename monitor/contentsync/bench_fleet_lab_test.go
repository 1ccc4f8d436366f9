package contentsync

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/understudy/understudy/internal/labtest"
	"github.com/understudy/understudy/lxd"
)

// The lab fleet's content sync (bash bench/run.sh syncfleet): 24 services
// laid out as examples/lab/fleet.sh lays out f01-f24, with 24 distinct
// primaries of this package's own: t-sync-f01-vm to t-sync-f16-vm on host-a
// and t-sync-f17-vm to t-sync-f24-vm on host-b, and their standby
// containers t-sync-f01 to t-sync-f24 on standby-1 (named after the
// service, as the standby agent names them), warm (running) for every
// third service from the first, as the fleet's, and cold (stopped) for the
// others. None has an address: the incus method reads and writes through
// the daemons' file API, not the network. Each primary holds 1 MB in 100
// files under /var/www/bench; a change rewrites one file in every primary
// (1 %). The lab's own fleet (f01-vm...) is left alone: its monitor and
// drills use it.
const (
	fleetN        = 24
	fleetOnA      = 16
	fleetSize     = 1 << 20
	fleetDir      = "/var/www/bench"
	fleetParallel = 4 // instances created, deleted and filled at once
)

func fleetService(i int) string { return fmt.Sprintf("t-sync-f%02d", i) }
func fleetVM(i int) string      { return fleetService(i) + "-vm" }
func fleetWarm(i int) bool      { return i%3 == 1 }

// fleetWorld is the fleet's 48 containers, an open session on every
// primary (for the changes) and the services' targets.
type fleetWorld struct {
	lab                 *labtest.Lab
	hostA, hostB, stdby *lxd.Client
	prim                map[string]*lxd.Client // service: its primary's hypervisor
	files               map[string]*lxd.Files  // service: a session on its primary
	version             int                    // of the last change
	services            []string
}

// fleetInstance is one container of the fleet world.
type fleetInstance struct {
	c    *lxd.Client
	name string
	run  bool
}

func newFleetWorld(b *testing.B) *fleetWorld {
	b.Helper()
	lab := labtest.Require(b)
	lab.NeedHostB(b)
	ctx, cancel := context.WithTimeout(context.Background(), labBound)
	defer cancel()
	w := &fleetWorld{lab: lab, prim: map[string]*lxd.Client{}, files: map[string]*lxd.Files{}}
	for _, d := range []struct {
		c   **lxd.Client
		dmn labtest.Daemon
	}{{&w.hostA, lab.HostA}, {&w.hostB, lab.HostB}, {&w.stdby, lab.Standby}} {
		c, err := lxd.Connect(ctx, lxd.Conn{Name: d.dmn.Name, Socket: d.dmn.Socket})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(c.Close)
		*d.c = c
	}
	var insts []fleetInstance
	for i := 1; i <= fleetN; i++ {
		c := w.hostA
		if i > fleetOnA {
			c = w.hostB
		}
		w.prim[fleetService(i)] = c
		w.services = append(w.services, fleetService(i))
		insts = append(insts, fleetInstance{c, fleetVM(i), true}, fleetInstance{w.stdby, fleetService(i), fleetWarm(i)})
	}
	t0 := time.Now()
	if err := deleteFleet(insts); err != nil { // left by a killed run
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := deleteFleet(insts); err != nil {
			b.Logf("cleanup: %v", err)
		}
	})
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fleetParallel)
	for _, in := range insts {
		g.Go(func() error { return createFleetInstance(gctx, lab.Image, in) })
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	b.Logf("fleet world: %d containers in %s", len(insts), time.Since(t0).Round(time.Millisecond))
	w.fill(b)
	return w
}

// createFleetInstance creates the busybox container in, without an
// address, and starts it when it runs.
func createFleetInstance(ctx context.Context, image string, in fleetInstance) error {
	spec := lxd.InstanceSpec{Name: in.name, Image: image, Memory: 64 << 20}
	if _, err := in.c.Ensure(ctx, spec); err != nil {
		return fmt.Errorf("create %s: %w", in.name, err)
	}
	if !in.run {
		return nil
	}
	if err := in.c.Start(ctx, in.name); err != nil {
		return fmt.Errorf("start %s: %w", in.name, err)
	}
	return nil
}

// deleteFleet deletes every instance of insts that exists.
func deleteFleet(insts []fleetInstance) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var g errgroup.Group
	g.SetLimit(fleetParallel)
	for _, in := range insts {
		g.Go(func() error {
			if err := in.c.Delete(ctx, in.name); err != nil {
				return fmt.Errorf("delete %s: %w", in.name, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// fill writes each primary's content (version 0) and keeps a session on
// it open for the changes; closed at the end, before the deletes.
func (w *fleetWorld) fill(b *testing.B) {
	b.Helper()
	var mu sync.Mutex
	b.Cleanup(func() {
		for _, f := range w.files {
			_ = f.Close()
		}
	})
	var g errgroup.Group
	g.SetLimit(fleetParallel)
	for _, s := range w.services {
		g.Go(func() error {
			f, err := w.prim[s].Files(context.Background(), s+"-vm")
			if err != nil {
				return err
			}
			mu.Lock()
			w.files[s] = f
			mu.Unlock()
			_ = f.RemoveAll(fleetDir)
			if err := f.Mkdir(fleetDir); err != nil {
				return err
			}
			for i := range benchFiles {
				if err := putBenchFile(f, fleetDir, i, fleetSize/benchFiles, 0); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatalf("fill the primaries: %v", err)
	}
}

// change rewrites one file (1 %) in every primary, a new version each time.
func (w *fleetWorld) change() error {
	w.version++
	var g errgroup.Group
	g.SetLimit(fleetParallel)
	for _, s := range w.services {
		g.Go(func() error {
			return putBenchFile(w.files[s], fleetDir, w.version%benchFiles, fleetSize/benchFiles, w.version)
		})
	}
	return g.Wait()
}

// targets are the fleet's services syncing every every.
func (w *fleetWorld) targets(every time.Duration) []Target {
	out := make([]Target, 0, len(w.services))
	for _, s := range w.services {
		out = append(out, Target{Service: s, Paths: []string{fleetDir}, Every: every, MaxRPO: time.Hour})
	}
	return out
}

// runner is a fresh runner of the fleet's syncs at every (its statuses
// empty: every service is due at once when Run starts).
func (w *fleetWorld) runner(every time.Duration) *Runner {
	ts := w.targets(every)
	return New(Config{Targets: func() []Target { return ts }, Open: fleetOpener{w}, Gate: openGate{},
		Logger: slog.New(slog.DiscardHandler)})
}

// round syncs every service once, all started together, through slots
// (max-parallel as its capacity), as the schedule runs a round where all
// are due; wantChanged is the files each sync must read.
func (w *fleetWorld) round(ctx context.Context, r *Runner, slots Slots, wantChanged int) error {
	var g errgroup.Group
	for _, tg := range w.targets(time.Hour) {
		g.Go(func() error {
			st, err := r.SyncNow(ctx, tg, slots)
			if err == nil && st.Changed != wantChanged {
				err = fmt.Errorf("sync of %s read %d files, want %d", tg.Service, st.Changed, wantChanged)
			}
			return err
		})
	}
	return g.Wait()
}

// fleetOpener opens a service's primary on its hypervisor and its standby
// container on standby-1.
type fleetOpener struct{ w *fleetWorld }

func (o fleetOpener) Primary(ctx context.Context, service string) (Session, error) {
	c, ok := o.w.prim[service]
	if !ok {
		return nil, fmt.Errorf("no primary of %q in the fleet world", service)
	}
	return c.Files(ctx, service+"-vm")
}

func (o fleetOpener) Standby(ctx context.Context, service string) (Session, error) {
	return o.w.stdby.Files(ctx, service)
}

// benchSlots are migration.max-parallel slots: a semaphore of its capacity.
type benchSlots chan struct{}

var _ Slots = benchSlots(nil)

func (s benchSlots) Slot(ctx context.Context) (func(), error) {
	select {
	case s <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	var once sync.Once
	return func() { once.Do(func() { <-s }) }, nil
}

// cpuSnap is the CPU time spent so far by the fleet's daemons and by this
// process, the monitor's side (with its reaped children: rsync, ssh).
type cpuSnap struct {
	standby, primaries, monitor time.Duration
}

func (w *fleetWorld) snap(b *testing.B) cpuSnap {
	return cpuSnap{
		standby:   daemonCPU(b, w.lab, "standby-1"),
		primaries: daemonCPU(b, w.lab, "host-a") + daemonCPU(b, w.lab, "host-b"),
		monitor:   monitorCPU(b),
	}
}

func (s cpuSnap) sub(o cpuSnap) cpuSnap {
	return cpuSnap{standby: s.standby - o.standby, primaries: s.primaries - o.primaries, monitor: s.monitor - o.monitor}
}

// monitorCPU is this process's CPU time (user+system) with its reaped
// children's.
func monitorCPU(b *testing.B) time.Duration {
	b.Helper()
	var total time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if err := syscall.Getrusage(who, &ru); err != nil {
			b.Fatal(err)
		}
		total += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return total
}

// settle lets the daemons reap the file servers of the sessions that just
// closed, so their CPU counts in the interval that used them.
func settle() { time.Sleep(100 * time.Millisecond) }

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// medianOf is the median of v (0 for none).
func medianOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// printTable prints rows under title in the form bench/summarize reads
// ("TITLE, N runs (ms):", a header, numbered rows, "med"), to stdout: a
// benchmark's log is truncated.
func printTable(title string, cols []string, rows [][]float64) {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s, %d runs (ms):\n%-4s", title, len(rows), "run")
	for _, c := range cols {
		fmt.Fprintf(&sb, " %14s", c)
	}
	for i, r := range rows {
		fmt.Fprintf(&sb, "\n%-4d", i+1)
		for _, v := range r {
			fmt.Fprintf(&sb, " %14.1f", v)
		}
	}
	fmt.Fprintf(&sb, "\n%-4s", "med")
	for j := range cols {
		col := make([]float64, 0, len(rows))
		for _, r := range rows {
			col = append(col, r[j])
		}
		fmt.Fprintf(&sb, " %14.1f", medianOf(col))
	}
	fmt.Println(sb.String())
}

// envInt and envDuration read a benchmark's knob, def when unset.
func envInt(b *testing.B, name string, def int) int {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

func envDurations(b *testing.B, name, def string) []time.Duration {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		v = def
	}
	var out []time.Duration
	for _, f := range strings.Split(v, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil || d <= 0 {
			b.Fatalf("%s=%q: want durations separated by commas", name, v)
		}
		out = append(out, d)
	}
	return out
}

// BenchmarkSyncFleetLab: the fleet's first, full round (24 services of
// 1 MB each, max-parallel 1: full-round-s), then SYNC_FLEET_ROUNDS rounds
// (default 10) over all 24 services with 1 % changed in each, at
// max-parallel 1 (the inventory's default, which the lab's inventories
// keep) and 2 (examples/realistic.yaml's) in turn: the round's time and
// the CPU the standby daemon, the primaries' daemons (host-a and host-b)
// and the monitor's side (this process) spent in it. Run it with
// -benchtime 1x: it repeats the rounds itself and prints each round.
func BenchmarkSyncFleetLab(b *testing.B) {
	w := newFleetWorld(b)
	ctx := context.Background()
	r := w.runner(time.Hour)
	t0 := time.Now()
	if err := w.round(ctx, r, make(benchSlots, 1), benchFiles); err != nil {
		b.Fatalf("first round: %v", err)
	}
	b.ReportMetric(time.Since(t0).Seconds(), "full-round-s")
	n := envInt(b, "SYNC_FLEET_ROUNDS", 10)
	cols := []string{"round", "standby_cpu", "primaries_cpu", "monitor_cpu"}
	rows := map[int][][]float64{}
	for range n {
		for _, p := range []int{1, 2} {
			if err := w.change(); err != nil {
				b.Fatalf("change the primaries: %v", err)
			}
			settle()
			c0 := w.snap(b)
			t0 := time.Now()
			if err := w.round(ctx, r, make(benchSlots, p), 1); err != nil {
				b.Fatalf("round at max-parallel %d: %v", p, err)
			}
			took := time.Since(t0)
			settle()
			c := w.snap(b).sub(c0)
			rows[p] = append(rows[p], []float64{ms(took), ms(c.standby), ms(c.primaries), ms(c.monitor)})
		}
	}
	for _, p := range []int{1, 2} {
		printTable(fmt.Sprintf("fleet round of %d services, max-parallel %d", fleetN, p), cols, rows[p])
		col := func(j int) float64 {
			v := make([]float64, 0, len(rows[p]))
			for _, r := range rows[p] {
				v = append(v, r[j])
			}
			return medianOf(v)
		}
		sfx := "-p" + strconv.Itoa(p)
		b.ReportMetric(col(0)/1000, "round-s"+sfx)
		b.ReportMetric(col(1), "standby-cpu-ms/round"+sfx)
		b.ReportMetric(col(1)/600, "standby-cpu-pct-at-1m"+sfx) // ms per minute, as a percent of one core
		b.ReportMetric(col(2), "primaries-cpu-ms/round"+sfx)
		b.ReportMetric(col(3), "monitor-cpu-ms/round"+sfx)
	}
	b.ReportMetric(fleetN, "services")
	b.ReportMetric(float64(n), "rounds")
}
