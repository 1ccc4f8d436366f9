package contentsync

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/labtest"
	"github.com/understudy/understudy/internal/labtest/labconn"
	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/lxd"
)

// The whole-instance sync's names and addresses in the lab (HACKING.md):
// the primary t-sync-w1 on host-a at 10.200.0.145, the cold standby
// container t-sync-wcold on standby-1 at 10.200.1.22 (its staging copy
// t-sync-wcold-sync is never started).
const (
	labWholePrimary     = "t-sync-w1"
	labWholePrimaryAddr = "10.200.0.145"
	labWholeCold        = "t-sync-wcold"
	labWholeColdAddr    = "10.200.1.22"
)

// labInstances refreshes the lab's primary into the staging copy of the
// service's standby container and swaps it in, as the daemon's
// syncInstances does with the inventory's clients.
type labInstances struct{ w *labWorld }

func (l labInstances) Refresh(ctx context.Context, service string, lim *lxd.Limiter) (Stats, error) {
	res, err := l.w.hostA.RefreshStaging(ctx, l.w.stdby, labWholePrimary, service, service+inventory.SyncStagingSuffix,
		lxd.RefreshOptions{Limiter: lim, Owner: labOwner})
	return Stats{Sent: max(res.SentBytes, 0)}, err
}

func (l labInstances) Swap(ctx context.Context, service string) error {
	return l.w.stdby.Swap(ctx, service, service+inventory.SyncStagingSuffix)
}

// labStandby names standby-1 in the lab's staging copies, labOwner is
// their owner mark (the daemon marks its standby VM's agent URL).
const (
	labStandby = "standby-1"
	labOwner   = "t-sync"
)

// Stagings lists standby-1's staging copies, as the daemon's syncInstances
// does on each standby VM.
func (l labInstances) Stagings(ctx context.Context) ([]Staging, error) {
	found, err := l.w.stdby.StagingCopies(ctx)
	var out []Staging
	for _, f := range found {
		if f.Owner == labOwner {
			out = append(out, Staging{Standby: labStandby, Service: f.Of})
		}
	}
	return out, err
}

func (l labInstances) RemoveStaging(ctx context.Context, s Staging) error {
	return l.w.stdby.DeleteStaging(ctx, s.Service, labOwner)
}

// wholeWorld is the whole-instance sync's lab world: the primary (running
// when run) and the stopped standby container, no staging copy nor swap's
// aside instance left from an earlier run.
func wholeWorld(ctx context.Context, t *testing.T, run bool) *labWorld {
	lab := labtest.Require(t)
	c := labconn.Open(ctx, t, lab)
	w := &labWorld{t: t, lab: lab, hostA: c.HostA, stdby: c.Standby}
	for _, n := range []string{labWholeCold + inventory.SyncStagingSuffix, labWholeCold + inventory.SyncSwapSuffix} {
		del := func() {
			dctx, dcancel := context.WithTimeout(context.Background(), time.Minute)
			defer dcancel()
			if err := w.stdby.Delete(dctx, n); err != nil {
				t.Logf("cleanup: delete %s: %v", n, err)
			}
		}
		del()
		t.Cleanup(del)
	}
	w.instance(ctx, w.hostA, labWholePrimary, labWholePrimaryAddr, lab.HostA.Gateway, run)
	w.instance(ctx, w.stdby, labWholeCold, labWholeColdAddr, lab.Standby.Gateway, false)
	return w
}

// TestIntegrationSyncWholeInstanceStagingRemoved: a whole-instance sync
// leaves its staging copy on standby-1, marked as the standby container's;
// a sweep keeps it while the sync is in the inventory, and removes it, and
// nothing else, once the sync left it.
func TestIntegrationSyncWholeInstanceStagingRemoved(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), labBound)
	defer cancel()
	w := wholeWorld(ctx, t, false)
	tg := Target{Service: labWholeCold, WholeInstance: true, Standby: labStandby, Every: time.Minute, MaxRPO: 3 * time.Minute}
	ts := &targets{}
	ts.set(tg)
	r := New(Config{Targets: ts.get, Instances: labInstances{w}, Stagings: labInstances{w}, Gate: openGate{},
		Logger: labtest.Logger(t, slog.LevelDebug)})
	if _, err := r.SyncNow(ctx, tg, nil); err != nil {
		t.Fatalf("sync: %v", err)
	}
	staging := labWholeCold + inventory.SyncStagingSuffix
	if _, err := w.stdby.State(ctx, staging); err != nil {
		t.Fatalf("the sync left no staging copy %s: %v", staging, err)
	}
	if removed, err := r.SweepStaging(ctx); err != nil || len(removed) != 0 {
		t.Fatalf("sweep with the sync in the inventory = %v, %v; want nothing removed", removed, err)
	}
	ts.set() // the sync is dropped from the inventory
	removed, err := r.SweepStaging(ctx)
	if want := []Staging{{Standby: labStandby, Service: labWholeCold}}; err != nil || !slices.Equal(removed, want) {
		t.Fatalf("sweep once the sync left = %v, %v; want %v", removed, err, want)
	}
	if _, err := w.stdby.State(ctx, staging); !errors.Is(err, lxd.ErrNotFound) {
		t.Errorf("staging copy after the sweep: %v, want it gone", err)
	}
	if _, err := w.stdby.State(ctx, labWholeCold); err != nil {
		t.Errorf("the standby container after the sweep: %v, want it kept", err)
	}
	if _, err := w.hostA.State(ctx, labWholePrimary); err != nil {
		t.Errorf("the primary after the sweep: %v, want it kept", err)
	}
}

// TestIntegrationSyncWholeInstance keeps a cold standby container fresh
// from a running primary by whole-instance syncs: the first copies it
// all, the second moves less; a sync cut half-way (its refresh held to
// 64 KiB/s past a 2 s deadline) leaves the standby container with the
// last good copy and the recovery point where it was; the next completes.
// The standby container stays stopped throughout, and, started, serves
// the last marker on its own address. The primary is never stopped.
func TestIntegrationSyncWholeInstance(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), labBound)
	defer cancel()
	w := wholeWorld(ctx, t, true)
	lim := lxd.NewLimiter(256 << 20) // high: the relay counts the bytes
	r := New(Config{Instances: labInstances{w}, Gate: openGate{}, Limiter: func() *lxd.Limiter { return lim },
		Logger: labtest.Logger(t, slog.LevelDebug)})
	tg := Target{Service: labWholeCold, WholeInstance: true, Every: time.Minute, MaxRPO: 3 * time.Minute}

	// 1 MiB of its own, random (the migration's rsync compresses).
	write(t, w.hostA, labWholePrimary, "/var/www/own.bin", randomText(1<<20))
	write(t, w.hostA, labWholePrimary, "/var/www/marker.html", "one")
	first, err := r.SyncNow(ctx, tg, nil)
	if err != nil {
		t.Fatalf("first sync: %v", err)
	}
	write(t, w.hostA, labWholePrimary, "/var/www/marker.html", "two!")
	second, err := r.SyncNow(ctx, tg, nil)
	if err != nil {
		t.Fatalf("second sync: %v", err)
	}
	t.Logf("first sync %+v, second %+v", first, second)
	if !first.Swapped || !second.Swapped || first.Sent < 1<<20 || second.Sent >= first.Sent/4 {
		t.Errorf("syncs sent %d then %d bytes, want both swapped, the first at least 1 MiB and the second under a quarter of it", first.Sent, second.Sent)
	}
	if got := read(t, w.stdby, labWholeCold, "/var/www/marker.html"); got != "two!" {
		t.Errorf("standby holds %q, want two!", got)
	}
	good, _ := r.Status(labWholeCold)

	// Cut half-way: 2 MiB of new content at 64 KiB/s cannot pass in 2 s.
	write(t, w.hostA, labWholePrimary, "/var/www/big.bin", randomText(2<<20))
	write(t, w.hostA, labWholePrimary, "/var/www/marker.html", "three")
	lim.SetRate(64 << 10)
	cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
	_, err = r.SyncNow(cctx, tg, nil)
	ccancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cut sync = %v, want the deadline", err)
	}
	if got := read(t, w.stdby, labWholeCold, "/var/www/marker.html"); got != "two!" {
		t.Errorf("after the cut the standby holds %q, want the last good two!", got)
	}
	if st, _ := r.Status(labWholeCold); !st.LastGood.Equal(good.LastGood) || st.Failures != 1 {
		t.Errorf("after the cut: status %+v, want the last good sync kept and one failure", st)
	}
	lim.SetRate(256 << 20)
	if _, err := r.SyncNow(ctx, tg, nil); err != nil {
		t.Fatalf("sync after the cut: %v", err)
	}
	if s, err := w.stdby.State(ctx, labWholeCold); err != nil || s.Running {
		t.Fatalf("cold standby state = %+v (%v): a sync started it", s, err)
	}
	if s, err := w.hostA.State(ctx, labWholePrimary); err != nil || !s.Running {
		t.Errorf("primary state = %+v (%v), want running throughout", s, err)
	}
	if err := w.stdby.Start(ctx, labWholeCold); err != nil {
		t.Fatal(err)
	}
	if body, err := waitGet(ctx, labWholeColdAddr, "/marker.html"); err != nil || body != "three" {
		t.Errorf("cold standby, started, serves %q (%v), want three", body, err)
	}
}

// randomText is n random bytes, as a string.
func randomText(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return string(b)
}
