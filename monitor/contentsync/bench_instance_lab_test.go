package contentsync

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/labtest"
	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/lxd"
)

// BenchmarkSyncWholeInstanceLab: one whole-instance sync (sync.whole-instance)
// of the primary t-sync-w1 with SIZE of content under /var/www/bench
// (random, so the migration's rsync cannot compress it) with 1 % changed
// (one file of 100 rewritten), into the cold standby container
// t-sync-wcold on standby-1: the staging copy's local catch-up, the
// refresh from the running primary (relayed through a Limiter at 1 GiB/s,
// which only counts the bytes), and the swap. full-s is the first sync
// (the staging copy made and the whole content sent); sent-bytes/op what
// the relay forwarded; CPU as in BenchmarkSyncLab.
func BenchmarkSyncWholeInstanceLab(b *testing.B) {
	for _, size := range benchSizes() {
		b.Run("size="+sizeName(size)+"/changed=1%", func(b *testing.B) {
			w := newWholeBenchWorld(b)
			dir := "/var/www/bench"
			ctx := context.Background()
			f, err := w.hostA.Files(ctx, labWholePrimary)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			_ = f.RemoveAll(dir)
			if err := f.Mkdir(dir); err != nil {
				b.Fatal(err)
			}
			for i := range benchFiles {
				writeRandomFile(b, f, dir, i, size/benchFiles)
			}
			lim := lxd.NewLimiter(1 << 30)
			r := New(Config{Instances: wholeBench{w}, Gate: openGate{}, Limiter: func() *lxd.Limiter { return lim },
				Logger: slog.New(slog.DiscardHandler)})
			tg := Target{Service: labWholeCold, WholeInstance: true, Every: time.Minute, MaxRPO: time.Hour}
			t0 := time.Now()
			if st, err := r.SyncNow(ctx, tg, nil); err != nil || st.Sent < size {
				b.Fatalf("full sync = %+v, %v; want at least %d bytes sent", st, err, size)
			}
			full := time.Since(t0)
			var sent int64
			var cpuStandby, cpuPrimary time.Duration
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				writeRandomFile(b, f, dir, i%benchFiles, size/benchFiles)
				s0, p0 := daemonCPU(b, w.lab, "standby-1"), daemonCPU(b, w.lab, "host-a")
				b.StartTimer()
				st, err := r.SyncNow(ctx, tg, nil)
				b.StopTimer()
				if err != nil || !st.Swapped {
					b.Fatalf("sync %d = %+v, %v", i, st, err)
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

// newWholeBenchWorld is the running primary t-sync-w1 on host-a and the
// stopped standby container t-sync-wcold on standby-1, without staging
// copies left from an earlier run; all deleted at the end.
func newWholeBenchWorld(b *testing.B) *benchWorld {
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
	for _, n := range []string{labWholeCold + inventory.SyncStagingSuffix, labWholeCold + inventory.SyncSwapSuffix} {
		del := func() {
			dctx, dcancel := context.WithTimeout(context.Background(), time.Minute)
			defer dcancel()
			if err := stdby.Delete(dctx, n); err != nil {
				b.Logf("cleanup: delete %s: %v", n, err)
			}
		}
		del()
		b.Cleanup(del)
	}
	benchInstance(ctx, b, hostA, lab, labWholePrimary, labWholePrimaryAddr, lab.HostA.Gateway)
	benchInstance(ctx, b, stdby, lab, labWholeCold, labWholeColdAddr, lab.Standby.Gateway)
	if err := stdby.Stop(ctx, labWholeCold, 0); err != nil { // cold
		b.Fatal(err)
	}
	return &benchWorld{lab: lab, hostA: hostA, stdby: stdby}
}

// wholeBench is labInstances over a benchWorld.
type wholeBench struct{ w *benchWorld }

func (l wholeBench) Refresh(ctx context.Context, service string, lim *lxd.Limiter) (Stats, error) {
	res, err := l.w.hostA.RefreshStaging(ctx, l.w.stdby, labWholePrimary, service, service+inventory.SyncStagingSuffix,
		lxd.RefreshOptions{Limiter: lim})
	return Stats{Sent: max(res.SentBytes, 0)}, err
}

func (l wholeBench) Swap(ctx context.Context, service string) error {
	return l.w.stdby.Swap(ctx, service, service+inventory.SyncStagingSuffix)
}

// writeRandomFile writes file i of dir: n random bytes.
func writeRandomFile(b *testing.B, f *lxd.Files, dir string, i int, n int64) {
	b.Helper()
	wr, err := f.Create(fmt.Sprintf("%s/f%03d", dir, i))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(wr, io.LimitReader(rand.Reader, n)); err != nil {
		b.Fatal(err)
	}
	if err := wr.Close(); err != nil {
		b.Fatal(err)
	}
}
