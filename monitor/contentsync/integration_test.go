package contentsync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/labtest"
	"github.com/understudy/understudy/internal/labtest/labconn"
	"github.com/understudy/understudy/lxd"
)

// Names and addresses this package owns in the lab (HACKING.md): the
// primary t-sync-prim on host-a at 10.200.0.140, standby containers
// t-sync-warm (10.200.1.171, running) and t-sync-cold (10.200.1.172,
// stopped) on standby-1.
const (
	labPrimary     = "t-sync-prim"
	labPrimaryAddr = "10.200.0.140"
	labWarm        = "t-sync-warm"
	labWarmAddr    = "10.200.1.171"
	labCold        = "t-sync-cold"
	labColdAddr    = "10.200.1.172"
	labBound       = 3 * time.Minute
)

// labWorld is a primary on host-a and two standby containers on
// standby-1, warm (running) and cold (created, stopped).
type labWorld struct {
	t            *testing.T
	lab          *labtest.Lab
	hostA, stdby *lxd.Client
}

func newLabWorld(t *testing.T) *labWorld {
	t.Helper()
	lab := labtest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), labBound)
	defer cancel()
	c := labconn.Open(ctx, t, lab)
	w := &labWorld{t: t, lab: lab, hostA: c.HostA, stdby: c.Standby}
	w.instance(ctx, w.hostA, labPrimary, labPrimaryAddr, lab.HostA.Gateway, true)
	w.instance(ctx, w.stdby, labWarm, labWarmAddr, lab.Standby.Gateway, true)
	w.instance(ctx, w.stdby, labCold, labColdAddr, lab.Standby.Gateway, false)
	return w
}

// instance creates a fresh busybox container (started when run) and
// deletes it when the test ends.
func (w *labWorld) instance(ctx context.Context, c *lxd.Client, name, addr, gw string, run bool) {
	w.t.Helper()
	del := func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.Delete(cctx, name); err != nil {
			w.t.Logf("cleanup: delete %s: %v", name, err)
		}
	}
	del()
	w.t.Cleanup(del)
	spec := lxd.InstanceSpec{Name: name, Image: w.lab.Image, Memory: 64 << 20,
		Config: map[string]string{"environment.IPADDR": addr + "/24", "environment.GATEWAY": gw}}
	if _, err := c.Ensure(ctx, spec); err != nil {
		w.t.Fatalf("create %s: %v", name, err)
	}
	if run {
		if err := c.Start(ctx, name); err != nil {
			w.t.Fatalf("start %s: %v", name, err)
		}
		if _, err := waitGet(ctx, addr, "/"); err != nil {
			w.t.Fatalf("%s never served: %v", name, err)
		}
	}
}

// labOpener opens the primary, and the standby container named after the
// target's service.
type labOpener struct{ w *labWorld }

func (o labOpener) Primary(ctx context.Context, _ string) (Session, error) {
	return o.w.hostA.Files(ctx, labPrimary)
}

func (o labOpener) Standby(ctx context.Context, service string) (Session, error) {
	return o.w.stdby.Files(ctx, service)
}

// write writes content to p in instance name on c through its file API.
func write(t *testing.T, c *lxd.Client, name, p, content string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f, err := c.Files(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	wr, err := f.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(wr, strings.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	if err := wr.Close(); err != nil {
		t.Fatal(err)
	}
}

// read reads p in instance name on c through its file API.
func read(t *testing.T, c *lxd.Client, name, p string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f, err := c.Files(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := f.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitGet GETs http://addr/path until it answers 200 or ctx ends.
func waitGet(ctx context.Context, addr, path string) (string, error) {
	var last error
	for {
		body, err := get(ctx, addr, path)
		if err == nil {
			return body, nil
		}
		last = err
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func get(ctx context.Context, addr, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return "", err
	}
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return string(b), err
}

// openGate is a gate that is always open.
type openGate struct{}

func (openGate) MaySync(string) error { return nil }

// marker2 is the second marker each standby gets.
var marker2 = map[string]string{labWarm: "marker two: warm", labCold: "marker two: the cold one"}

// TestIntegrationSyncWarmAndCold syncs a primary's web root into a
// running and into a stopped standby container through the Incus file
// API: the warm one serves the new file at once, the cold one once
// started, and a second sync moves only the file that changed.
func TestIntegrationSyncWarmAndCold(t *testing.T) {
	w := newLabWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), labBound)
	defer cancel()
	write(t, w.hostA, labPrimary, "/var/www/marker.html", "marker one")
	write(t, w.hostA, labPrimary, "/var/www/big.bin", strings.Repeat("x", 2<<20))
	r := New(Config{Open: labOpener{w}, Gate: openGate{}, Logger: labtest.Logger(t, slog.LevelDebug)})
	for _, name := range []string{labWarm, labCold} {
		tg := Target{Service: name, Paths: []string{"/var/www"}, Every: time.Minute, MaxRPO: 3 * time.Minute}
		st, err := r.SyncNow(ctx, tg, nil)
		if err != nil {
			t.Fatalf("sync into %s: %v", name, err)
		}
		// marker.html and big.bin are new (written just now); index.html
		// differs unless a run before this one already copied it; the
		// image's own files (the burn CGI) are the same on both sides and
		// are counted but not copied.
		if !st.Swapped || st.Files < 3 || st.Changed < 2 || st.Changed > 3 {
			t.Errorf("first sync into %s = %+v, want marker.html and big.bin (and index.html) copied", name, st)
		}
		// Markers of different sizes: a rewrite of the same size within
		// the same second is what a size+mtime check cannot see (README).
		write(t, w.hostA, labPrimary, "/var/www/marker.html", marker2[name])
		st, err = r.SyncNow(ctx, tg, nil)
		if err != nil {
			t.Fatalf("second sync into %s: %v", name, err)
		}
		if st.Changed != 1 || st.Sent != int64(len(marker2[name])) {
			t.Errorf("second sync into %s = %+v, want only the marker moved", name, st)
		}
	}
	if body, err := get(ctx, labWarmAddr, "/marker.html"); err != nil || body != marker2[labWarm] {
		t.Errorf("warm standby serves %q (%v), want the primary's new marker", body, err)
	}
	if s, err := w.stdby.State(ctx, labCold); err != nil || s.Running {
		t.Fatalf("cold standby state = %+v (%v): the sync started it", s, err)
	}
	if got := read(t, w.stdby, labCold, "/var/www/marker.html"); got != marker2[labCold] {
		t.Errorf("cold standby holds %q, want the primary's new marker", got)
	}
	if err := w.stdby.Start(ctx, labCold); err != nil {
		t.Fatal(err)
	}
	if body, err := waitGet(ctx, labColdAddr, "/marker.html"); err != nil || body != marker2[labCold] {
		t.Errorf("cold standby, started, serves %q (%v), want the new marker", body, err)
	}
}

// TestIntegrationSyncKilledHalfWay cuts a sync after its first MiB (the
// monitor killed: its session to the daemon closes) and checks that the
// warm standby still serves the last good copy, whole, and that the next
// sync completes.
func TestIntegrationSyncKilledHalfWay(t *testing.T) {
	w := newLabWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), labBound)
	defer cancel()
	write(t, w.hostA, labPrimary, "/var/www/marker.html", "good")
	write(t, w.hostA, labPrimary, "/var/www/big.bin", strings.Repeat("a", 4<<20))
	r := New(Config{Open: labOpener{w}, Gate: openGate{}, Logger: labtest.Logger(t, slog.LevelDebug)})
	tg := Target{Service: labWarm, Paths: []string{"/var/www"}, Every: time.Minute, MaxRPO: 3 * time.Minute}
	if _, err := r.SyncNow(ctx, tg, nil); err != nil {
		t.Fatal(err)
	}
	// One byte longer: a rewrite of the same size within the second of the
	// last sync is what the size+mtime check cannot see.
	write(t, w.hostA, labPrimary, "/var/www/big.bin", strings.Repeat("b", 4<<20+1))
	write(t, w.hostA, labPrimary, "/var/www/marker.html", "newer")

	src, err := w.hostA.Files(ctx, labPrimary)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	kctx, kill := context.WithCancel(ctx)
	dst, err := w.stdby.Files(kctx, labWarm)
	if err != nil {
		t.Fatal(err)
	}
	_, err = copyPath(kctx, src, dst, "/var/www", copyOptions{Read: func(rd io.Reader) io.Reader {
		return &killAfter{r: rd, n: 1 << 20, kill: kill}
	}})
	if err == nil {
		t.Fatal("the killed sync succeeded")
	}
	t.Logf("killed sync: %v", err)
	if body, err := get(ctx, labWarmAddr, "/marker.html"); err != nil || body != "good" {
		t.Errorf("after the kill the standby serves %q (%v), want the last good marker", body, err)
	}
	if got := read(t, w.stdby, labWarm, "/var/www/big.bin"); got != strings.Repeat("a", 4<<20) {
		t.Errorf("after the kill big.bin is %d bytes starting %q, want the last good copy whole", len(got), got[:min(8, len(got))])
	}
	st, err := r.SyncNow(ctx, tg, nil)
	if err != nil {
		t.Fatalf("sync after the kill: %v", err)
	}
	if body, err := get(ctx, labWarmAddr, "/marker.html"); err != nil || body != "newer" {
		t.Errorf("after the next sync the standby serves %q (%v), want the new marker", body, err)
	}
	t.Logf("sync after the kill: %+v", st)
	f, err := w.stdby.Files(ctx, labWarm)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range []string{stageNew("/var/www"), stageOld("/var/www")} {
		if _, err := f.Lstat(p); err == nil {
			t.Errorf("%s left behind after a good sync", p)
		}
	}
}

// killAfter cancels the sync once n bytes were read, and fails the read.
type killAfter struct {
	r    io.Reader
	n    int
	kill context.CancelFunc
}

var errKilled = errors.New("killed half-way")

func (k *killAfter) Read(p []byte) (int, error) {
	if k.n <= 0 {
		k.kill()
		return 0, errKilled
	}
	if len(p) > k.n {
		p = p[:k.n]
	}
	n, err := k.r.Read(p)
	k.n -= n
	return n, err
}
