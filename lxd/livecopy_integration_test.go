package lxd

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/labtest"
	"github.com/understudy/understudy/standby/criuprobe"
)

// TestIntegrationLiveCopyToSpare live-copies the image's slow application
// (SLOW=1: a counter held in memory) from standby-1 to spare-1 with the
// lab's criu (livecopy.go): the copy runs at once and its next answer is
// the next number, so its memory came along. A live copy keeps the
// standby's address, which is not routed on spare-1's bridge, so the
// answers are read from inside the containers. It skips, with the reason,
// where the lab's daemons run no working criu (labtest Lab.CRIU).
func TestIntegrationLiveCopyToSpare(t *testing.T) {
	lab := labtest.Require(t)
	if _, why := lab.CRIU(); why != "" {
		t.Skipf("skipped: CRIU unavailable: %s", why)
	}
	src := connectHTTPS(t, lab, lab.Standby)
	dst := connectHTTPS(t, lab, lab.Spare)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const name, addr = "t-lxd-live", "10.200.1.198" // a live copy keeps addr: its network state comes along
	spec := labSpec(lab, name, addr, lab.Standby.Gateway)
	stateful, err := src.StatefulConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range criuprobe.RestoreConfig(criuprobe.KernelHasAppArmor(), stateful) {
		spec.Config[k] = v
	}
	spec.Config["environment.SLOW"] = "1"
	ensureFresh(t, src, spec)
	cleanup(t, dst, name)
	t.Cleanup(func() { cleanup(t, dst, name) })
	if err := src.Start(ctx, name); err != nil {
		t.Fatal(err)
	}
	before := waitCount(t, ctx, src, name, addr)
	src.SetStateful(true)
	dst.SetStateful(true)
	start := time.Now()
	if err := src.Copy(ctx, dst, name, CopyOptions{Live: true}); err != nil {
		t.Fatalf("live copy: %v", err)
	}
	took := time.Since(start)
	if st, err := dst.State(ctx, name); err != nil || !st.Running {
		t.Fatalf("the live copy on spare-1: %+v, %v; want running", st, err)
	}
	after := waitCount(t, ctx, dst, name, addr)
	if after != before+1 {
		t.Errorf("the copy answered %d after the source's %d: want %d (its memory came along)", after, before, before+1)
	}
	if st, err := src.State(ctx, name); err != nil || st.Running {
		t.Errorf("the source after a live copy: %+v, %v; want stopped", st, err)
	}
	t.Logf("live copy in %v; counter %d -> %d", took.Round(time.Millisecond), before, after)
}

// waitCount GETs the slow application at addr inside the container (its
// answer is "COUNT WARMED") until it answers, and returns the count.
// (Busybox's wget here crashes on 127.0.0.1 and on -T.)
func waitCount(t *testing.T, ctx context.Context, c *Client, name, addr string) int {
	t.Helper()
	var last string
	for ctx.Err() == nil {
		r, err := c.Exec(ctx, name, []string{"wget", "-q", "-O", "-", "http://" + addr + "/"}, nil)
		if err == nil && r.ExitCode == 0 {
			f := strings.Fields(string(r.Stdout))
			if len(f) == 2 {
				if n, err := strconv.Atoi(f[0]); err == nil {
					return n
				}
			}
			last = string(r.Stdout)
		} else if err != nil {
			last = err.Error()
		} else {
			last = string(r.Stderr)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s never answered (last: %q)", name, last)
	return 0
}
