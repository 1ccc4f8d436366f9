package lxd

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/labtest"
)

// readFile reads p in the (stopped) instance name through its SFTP files.
func readFile(ctx context.Context, t *testing.T, c *Client, name, p string) (string, FileInfo) {
	t.Helper()
	f, err := c.Files(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Lstat(p)
	if err != nil {
		t.Fatalf("stat %s in %s: %v", p, name, err)
	}
	r, err := f.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), fi
}

// sh runs a shell command in name and fails the test unless it exits 0.
func sh(ctx context.Context, t *testing.T, c *Client, name, cmd string) {
	t.Helper()
	res, err := c.Exec(ctx, name, []string{"/bin/sh", "-c", cmd}, nil)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("exec %q in %s: %v, exit %d, %s", cmd, name, err, res.ExitCode, res.Stderr)
	}
}

// TestIntegrationRefreshRunningSource refreshes a running container on
// host-a into a stopped copy on standby-1 twice, relayed through a shared
// Limiter (which counts the bytes): the source keeps running throughout,
// the first refresh creates the copy with the overrides, and the second,
// after one file changed, moves far less than the first, brings the
// changed file, leaves the untouched file as it was and keeps the copy's
// own config. A refresh into a running copy is refused.
func TestIntegrationRefreshRunningSource(t *testing.T) {
	lab := labtest.Require(t)
	src := connectHTTPS(t, lab, lab.HostA)
	dst := connectHTTPS(t, lab, lab.Standby)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const name, copyName = "t-lxd-rsrc", "t-lxd-rdst"
	ensureFresh(t, src, labSpec(lab, name, "10.200.0.143", lab.HostA.Gateway))
	cleanup(t, dst, copyName)
	t.Cleanup(func() { cleanup(t, dst, copyName) })
	if err := src.Start(ctx, name); err != nil {
		t.Fatal(err)
	}
	// 1 MiB of its own (random: nothing compresses), and a file to change.
	sh(ctx, t, src, name, "mkdir -p /srv && head -c 1048576 /dev/urandom > /srv/keep.bin && echo one > /srv/changed.txt")
	lim := NewLimiter(256 << 20) // high: the relay counts, it hardly waits
	opts := RefreshOptions{TargetName: copyName, Limiter: lim,
		Config: map[string]string{"environment.IPADDR": "10.200.1.20/24", "environment.GATEWAY": lab.Standby.Gateway}}
	first, err := src.Refresh(ctx, dst, name, opts)
	if err != nil {
		t.Fatalf("first refresh: %v", err)
	}
	if !first.Created || first.SentBytes < 1<<20 {
		t.Fatalf("first refresh = %+v, want a created copy and at least the 1 MiB sent", first)
	}
	_, keep1 := readFile(ctx, t, dst, copyName, "/srv/keep.bin")

	sh(ctx, t, src, name, "echo two > /srv/changed.txt")
	// Watch the source while it is copied: the daemons freeze a running
	// source unless told not to, and a frozen primary is down.
	watch, stopWatch := context.WithCancel(ctx)
	seen := make(chan string, 1)
	go func() {
		var bad string
		defer func() { seen <- bad }()
		for watch.Err() == nil {
			if st, err := src.State(watch, name); err == nil && !st.Running && bad == "" {
				bad = st.Status
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	second, err := src.Refresh(ctx, dst, name, opts)
	stopWatch()
	if bad := <-seen; bad != "" {
		t.Errorf("the source was %s during the refresh, want running throughout", bad)
	}
	if err != nil {
		t.Fatalf("second refresh: %v", err)
	}
	t.Logf("first refresh sent %d bytes, second %d", first.SentBytes, second.SentBytes)
	if second.Created || second.SentBytes >= first.SentBytes/4 {
		t.Errorf("second refresh = %+v, want an incremental one sending under a quarter of the first's %d bytes", second, first.SentBytes)
	}
	if got, _ := readFile(ctx, t, dst, copyName, "/srv/changed.txt"); strings.TrimSpace(got) != "two" {
		t.Errorf("changed file on the copy = %q, want two", got)
	}
	body, keep2 := readFile(ctx, t, dst, copyName, "/srv/keep.bin")
	if len(body) != 1<<20 || !keep2.ModTime.Equal(keep1.ModTime) || keep2.Size != keep1.Size {
		t.Errorf("untouched file on the copy: %d bytes, mtime %v; want 1 MiB, mtime %v as before", len(body), keep2.ModTime, keep1.ModTime)
	}
	if st, err := src.State(ctx, name); err != nil || !st.Running {
		t.Errorf("source after two refreshes = %+v, %v; want running", st, err)
	}
	inst, _, err := dst.getInstance(ctx, copyName)
	if err != nil {
		t.Fatal(err)
	}
	if got := inst.Config["environment.IPADDR"]; got != "10.200.1.20/24" {
		t.Errorf("copy's IPADDR = %q, want its own 10.200.1.20/24", got)
	}

	if err := dst.Start(ctx, copyName); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Refresh(ctx, dst, name, opts); !errors.Is(err, ErrTargetRunning) {
		t.Errorf("refresh into a running copy = %v, want ErrTargetRunning", err)
	}
}

// TestIntegrationRefreshSwap keeps a cold standby container on standby-1
// fresh from a running primary on host-a the way a whole-instance sync
// does: refresh a staging copy (caught up with the standby container
// first, RefreshStaging), swap it in while both are stopped, twice (the
// second time the staging copy is the one the first swap put aside). Each time the standby container holds
// the primary's new marker, keeps its own address, and starts and answers
// on it.
func TestIntegrationRefreshSwap(t *testing.T) {
	lab := labtest.Require(t)
	src := connectHTTPS(t, lab, lab.HostA)
	dst := connectHTTPS(t, lab, lab.Standby)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const name, standby = "t-lxd-rsw", "t-lxd-rsb"
	staging := standby + "-sync"
	ensureFresh(t, src, labSpec(lab, name, "10.200.0.144", lab.HostA.Gateway))
	ensureFresh(t, dst, labSpec(lab, standby, "10.200.1.21", lab.Standby.Gateway))
	for _, n := range []string{staging, standby + swapSuffix} {
		cleanup(t, dst, n)
		t.Cleanup(func() { cleanup(t, dst, n) })
	}
	if err := src.Start(ctx, name); err != nil {
		t.Fatal(err)
	}
	for i, marker := range []string{"v1", "v2"} {
		sh(ctx, t, src, name, "echo "+marker+" > /var/www/marker.txt")
		if _, err := src.RefreshStaging(ctx, dst, name, standby, staging, RefreshOptions{}); err != nil {
			t.Fatalf("refresh %d: %v", i+1, err)
		}
		if err := dst.Swap(ctx, standby, staging); err != nil {
			t.Fatalf("swap %d: %v", i+1, err)
		}
		if got, _ := readFile(ctx, t, dst, standby, "/var/www/marker.txt"); strings.TrimSpace(got) != marker {
			t.Errorf("swap %d: the standby container's marker = %q, want %q", i+1, got, marker)
		}
		if err := dst.Start(ctx, standby); err != nil {
			t.Fatal(err)
		}
		ip, err := dst.WaitIPv4(ctx, standby, "eth0")
		if err != nil || ip.String() != "10.200.1.21" {
			t.Fatalf("swap %d: the standby container's address = %v, %v; want its own 10.200.1.21", i+1, ip, err)
		}
		body, err := httpBody(ctx, ip)
		if err != nil {
			t.Fatalf("swap %d: GET on the standby container: %v", i+1, err)
		}
		t.Logf("swap %d: the standby container answers %q", i+1, body)
		if err := dst.Stop(ctx, standby, 0); err != nil {
			t.Fatal(err)
		}
	}
	if st, err := src.State(ctx, name); err != nil || !st.Running {
		t.Errorf("source after two syncs = %+v, %v; want running", st, err)
	}
}
