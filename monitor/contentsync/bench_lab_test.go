package contentsync

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/labtest"
	"github.com/understudy/understudy/lxd"
)

// Benchmarks of the sync in the lab (bash bench/run.sh sync). Content is
// 100 files of size/100 bytes under /var/www/bench in the primary
// t-sync-prim; each iteration changes one of them (1 %) and syncs it into
// a running standby container on standby-1. CPU is what the daemons spent
// during the syncs: standby-1's incusd and the forkfile SFTP servers it
// ran (their times once reaped), and host-a's.

// benchFiles is how many files the content is spread over: one changed
// file is 1 %.
const benchFiles = 100

// benchWorld is a primary and the standby containers a benchmark syncs into.
type benchWorld struct {
	lab          *labtest.Lab
	hostA, stdby *lxd.Client
}

func newBenchWorld(b *testing.B, standbys map[string]string) *benchWorld {
	b.Helper()
	lab := labtest.Require(b)
	ctx, cancel := context.WithTimeout(context.Background(), labBound)
	defer cancel()
	hostA, err := lxd.Connect(ctx, lxd.Conn{Name: "host-a", Socket: lab.HostA.Socket})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(hostA.Close)
	stdby, err := lxd.Connect(ctx, lxd.Conn{Name: "standby-1", Socket: lab.Standby.Socket})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(stdby.Close)
	w := &benchWorld{lab: lab, hostA: hostA, stdby: stdby}
	benchInstance(ctx, b, hostA, lab, labPrimary, labPrimaryAddr, lab.HostA.Gateway)
	for name, addr := range standbys {
		benchInstance(ctx, b, stdby, lab, name, addr, lab.Standby.Gateway)
	}
	return w
}

// benchInstance creates and starts a fresh busybox container, deleted at the end.
func benchInstance(ctx context.Context, b *testing.B, c *lxd.Client, lab *labtest.Lab, name, addr, gw string) {
	b.Helper()
	del := func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.Delete(cctx, name); err != nil {
			b.Logf("cleanup: delete %s: %v", name, err)
		}
	}
	del()
	b.Cleanup(del)
	spec := lxd.InstanceSpec{Name: name, Image: lab.Image, Memory: 64 << 20,
		Config: map[string]string{"environment.IPADDR": addr + "/24", "environment.GATEWAY": gw}}
	if _, err := c.Ensure(ctx, spec); err != nil {
		b.Fatalf("create %s: %v", name, err)
	}
	if err := c.Start(ctx, name); err != nil {
		b.Fatalf("start %s: %v", name, err)
	}
}

// fill writes the content into the primary: benchFiles files of
// size/benchFiles bytes under dir, with fixed modification times.
func (w *benchWorld) fill(b *testing.B, dir string, size int64) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	f, err := w.hostA.Files(ctx, labPrimary)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	_ = f.RemoveAll(dir)
	if err := f.Mkdir(dir); err != nil {
		b.Fatal(err)
	}
	for i := range benchFiles {
		writeBenchFile(b, f, dir, i, size/benchFiles, 0)
	}
}

// writeBenchFile writes file i of dir, version v (the content and the
// modification time differ by version).
func writeBenchFile(b *testing.B, f *lxd.Files, dir string, i int, n int64, v int) {
	b.Helper()
	p := fmt.Sprintf("%s/f%03d", dir, i)
	wr, err := f.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(wr, io.LimitReader(repeatReader(byte('a'+v%26)), n)); err != nil {
		b.Fatal(err)
	}
	if err := wr.Close(); err != nil {
		b.Fatal(err)
	}
	mt := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(v) * time.Minute)
	if err := f.Chtimes(p, mt, mt); err != nil {
		b.Fatal(err)
	}
}

type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// benchOpener syncs the primary into the standby container named after
// the target.
type benchOpener struct{ w *benchWorld }

func (o benchOpener) Primary(ctx context.Context, _ string) (Session, error) {
	return o.w.hostA.Files(ctx, labPrimary)
}
func (o benchOpener) Standby(ctx context.Context, s string) (Session, error) {
	return o.w.stdby.Files(ctx, s)
}

// daemonCPU is the CPU time (user+system, with reaped children) of a lab
// daemon, read from /proc.
func daemonCPU(b *testing.B, lab *labtest.Lab, name string) time.Duration {
	b.Helper()
	pidb, err := os.ReadFile(filepath.Join(lab.Dir, name, "incusd.pid"))
	if err != nil {
		b.Skipf("no pid of %s's daemon (CPU not measured on LXD): %v", name, err)
	}
	stat, err := os.ReadFile(filepath.Join("/proc", strings.TrimSpace(string(pidb)), "stat"))
	if err != nil {
		b.Fatal(err)
	}
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	var ticks int64
	for _, i := range []int{11, 12, 13, 14} { // utime stime cutime cstime (fields 14-17)
		v, err := strconv.ParseInt(fields[i], 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		ticks += v
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ 100
}

// benchSizes are the content sizes; SYNC_BENCH_1G=1 adds 1 GB (slow on
// the lab's disk).
func benchSizes() []int64 {
	s := []int64{1 << 20, 100 << 20}
	if os.Getenv("SYNC_BENCH_1G") == "1" {
		s = append(s, 1<<30)
	}
	return s
}

func sizeName(n int64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%dGB", n>>30)
	}
	return fmt.Sprintf("%dMB", n>>20)
}

// BenchmarkSyncLab: one sync of SIZE of content with 1 % changed (one
// file of 100), and the first, full copy (reported once as full-s).
func BenchmarkSyncLab(b *testing.B) {
	for _, size := range benchSizes() {
		b.Run("size="+sizeName(size)+"/changed=1%", func(b *testing.B) {
			w := newBenchWorld(b, map[string]string{labWarm: labWarmAddr})
			dir := "/var/www/bench"
			w.fill(b, dir, size)
			r := New(Config{Open: benchOpener{w}, Gate: openGate{}, Logger: slog.New(slog.DiscardHandler)})
			tg := Target{Service: labWarm, Paths: []string{dir}, Every: time.Minute, MaxRPO: time.Hour}
			ctx := context.Background()
			t0 := time.Now()
			if st, err := r.SyncNow(ctx, tg, nil); err != nil || st.Changed != benchFiles {
				b.Fatalf("full sync = %+v, %v", st, err)
			}
			full := time.Since(t0)
			f, err := w.hostA.Files(ctx, labPrimary)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			var sent int64
			var cpuStandby, cpuPrimary time.Duration
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				writeBenchFile(b, f, dir, i%benchFiles, size/benchFiles, i+1)
				s0, p0 := daemonCPU(b, w.lab, "standby-1"), daemonCPU(b, w.lab, "host-a")
				b.StartTimer()
				st, err := r.SyncNow(ctx, tg, nil)
				b.StopTimer()
				if err != nil || st.Changed != 1 {
					b.Fatalf("sync %d = %+v, %v; want one file changed", i, st, err)
				}
				sent += st.Sent
				cpuStandby += daemonCPU(b, w.lab, "standby-1") - s0
				cpuPrimary += daemonCPU(b, w.lab, "host-a") - p0
				b.StartTimer()
			}
			b.StopTimer()
			b.ReportMetric(full.Seconds(), "full-s")
			b.ReportMetric(float64(sent)/float64(b.N), "sent-bytes/op")
			b.ReportMetric(float64(cpuStandby.Milliseconds())/float64(b.N), "standby-cpu-ms/op")
			b.ReportMetric(float64(cpuPrimary.Milliseconds())/float64(b.N), "primary-cpu-ms/op")
		})
	}
}

// benchFleet are the standby containers of BenchmarkSyncFleetLab.
var benchFleet = map[string]string{
	"t-sync-f1": "10.200.1.173", "t-sync-f2": "10.200.1.174", "t-sync-f3": "10.200.1.175",
	"t-sync-f4": "10.200.1.176", "t-sync-f5": "10.200.1.177", "t-sync-f6": "10.200.1.178",
}

// BenchmarkSyncFleetLab: one round of syncing six services (1 MB of
// content each, 1 % changed), one after the other as migration.max-parallel
// 1 runs them. round-s is the smallest every that keeps up with the
// round; standby-cpu-pct-at-1m is the standby daemon's CPU, as a percent of
// one core, when the round runs every minute.
func BenchmarkSyncFleetLab(b *testing.B) {
	w := newBenchWorld(b, benchFleet)
	dir := "/var/www/bench"
	const size = 1 << 20
	w.fill(b, dir, size)
	r := New(Config{Open: benchOpener{w}, Gate: openGate{}, Logger: slog.New(slog.DiscardHandler)})
	var targets []Target
	for name := range benchFleet {
		targets = append(targets, Target{Service: name, Paths: []string{dir}, Every: time.Minute, MaxRPO: time.Hour})
	}
	ctx := context.Background()
	for _, tg := range targets {
		if _, err := r.SyncNow(ctx, tg, nil); err != nil {
			b.Fatalf("first sync of %s: %v", tg.Service, err)
		}
	}
	f, err := w.hostA.Files(ctx, labPrimary)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var cpuStandby, took time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		writeBenchFile(b, f, dir, i%benchFiles, size/benchFiles, i+1)
		s0 := daemonCPU(b, w.lab, "standby-1")
		t0 := time.Now()
		b.StartTimer()
		for _, tg := range targets {
			if st, err := r.SyncNow(ctx, tg, nil); err != nil || st.Changed != 1 {
				b.Fatalf("sync of %s = %+v, %v", tg.Service, st, err)
			}
		}
		b.StopTimer()
		took += time.Since(t0)
		cpuStandby += daemonCPU(b, w.lab, "standby-1") - s0
		b.StartTimer()
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(took.Seconds()/n, "round-s")
	b.ReportMetric(float64(cpuStandby.Milliseconds())/n, "standby-cpu-ms/round")
	b.ReportMetric(float64(cpuStandby.Milliseconds())/n/600, "standby-cpu-pct-at-1m")
	b.ReportMetric(float64(len(targets)), "services")
}
