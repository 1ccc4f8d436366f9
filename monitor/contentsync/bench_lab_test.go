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
	if err := putBenchFile(f, dir, i, n, v); err != nil {
		b.Fatal(err)
	}
}

// putBenchFile is writeBenchFile returning its error, for goroutines.
func putBenchFile(f *lxd.Files, dir string, i int, n int64, v int) error {
	p := fmt.Sprintf("%s/f%03d", dir, i)
	wr, err := f.Create(p)
	if err != nil {
		return err
	}
	if _, err := io.Copy(wr, io.LimitReader(repeatReader(byte('a'+v%26)), n)); err != nil {
		_ = wr.Close()
		return err
	}
	if err := wr.Close(); err != nil {
		return err
	}
	mt := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(v) * time.Minute)
	return f.Chtimes(p, mt, mt)
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

// benchMethods are the sync methods BenchmarkSyncLab measures side by side.
var benchMethods = []string{"incus", "rsync"}

// BenchmarkSyncLab: one sync of SIZE of content with 1 % changed (one
// file of 100) by each method, and the first, full copy (reported once as
// full-s). Method incus reads the primary through host-a's file API;
// method rsync pulls it over ssh (dropbear and rsync copied into the
// primary, labconn.SSHD) into a mirror on this side, then copies the
// mirror into the standby the same way (rsync.go). sent-bytes/op is what
// the copy into the standby read (the changed file); wire-bytes/op (rsync)
// what the primary's eth0 sent during the sync, TCP/IP and ssh included;
// primary-cpu-ms/op host-a's daemon, primary-guest-cpu-ms/op the primary
// container's cgroup (ssh and rsync's sender run there), standby-cpu-ms/op
// standby-1's daemon, monitor-cpu-ms/op this process with its reaped
// children (rsync, ssh), the monitor's side.
func BenchmarkSyncLab(b *testing.B) {
	for _, size := range benchSizes() {
		for _, method := range benchMethods {
			b.Run("size="+sizeName(size)+"/changed=1%/method="+method, func(b *testing.B) { benchSyncOne(b, size, method) })
		}
	}
}

func benchSyncOne(b *testing.B, size int64, method string) {
	w := newBenchWorld(b, map[string]string{labWarm: labWarmAddr})
	dir := "/var/www/bench"
	w.fill(b, dir, size)
	ctx := context.Background()
	var open Opener = benchOpener{w}
	if method == "rsync" {
		open = w.rsyncOpener(ctx, b, dir)
	}
	r := New(Config{Open: open, Gate: openGate{}, Logger: slog.New(slog.DiscardHandler)})
	tg := Target{Service: labWarm, Paths: []string{dir}, Every: time.Minute, MaxRPO: time.Hour}
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
	guest := guestOf(b, labPrimary)
	var sent, wire int64
	var cpuStandby, cpuPrimary, cpuGuest, cpuMonitor time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		writeBenchFile(b, f, dir, i%benchFiles, size/benchFiles, i+1)
		w0 := guest.txBytes(b)
		g0 := guest.cpu(b)
		s0, p0, m0 := daemonCPU(b, w.lab, "standby-1"), daemonCPU(b, w.lab, "host-a"), monitorCPU(b)
		b.StartTimer()
		st, err := r.SyncNow(ctx, tg, nil)
		b.StopTimer()
		if err != nil || st.Changed != 1 {
			b.Fatalf("sync %d = %+v, %v; want one file changed", i, st, err)
		}
		sent += st.Sent
		cpuMonitor += monitorCPU(b) - m0
		cpuStandby += daemonCPU(b, w.lab, "standby-1") - s0
		cpuPrimary += daemonCPU(b, w.lab, "host-a") - p0
		cpuGuest += guest.cpu(b) - g0
		wire += guest.txBytes(b) - w0
		b.StartTimer()
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(full.Seconds(), "full-s")
	b.ReportMetric(float64(sent)/n, "sent-bytes/op")
	if method == "rsync" {
		b.ReportMetric(float64(wire)/n, "wire-bytes/op")
	}
	b.ReportMetric(ms(cpuStandby)/n, "standby-cpu-ms/op")
	b.ReportMetric(ms(cpuPrimary)/n, "primary-cpu-ms/op")
	b.ReportMetric(ms(cpuGuest)/n, "primary-guest-cpu-ms/op")
	b.ReportMetric(ms(cpuMonitor)/n, "monitor-cpu-ms/op")
}
