package lxd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/labtest"
)

// Integration tests use instances named t-lxd-* with addresses
// 10.200.1.190-199 on standby-1 and 10.200.2.190-199 on spare-1 (HACKING.md).

func connectUnix(t testing.TB, d labtest.Daemon) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Connect(ctx, Conn{Name: d.Name, Socket: d.Socket})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func connectHTTPS(t testing.TB, lab *labtest.Lab, d labtest.Daemon) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Connect(ctx, Conn{Name: d.Name, URL: d.HTTPS, ClientCert: lab.ClientCert, ClientKey: lab.ClientKey, ServerCert: d.ServerCert})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// labSpec is a busybox container answering HTTP on addr (CIDR /24).
func labSpec(lab *labtest.Lab, name, addr, gateway string) InstanceSpec {
	return InstanceSpec{
		Name:   name,
		Image:  lab.Image,
		Config: map[string]string{"environment.IPADDR": addr + "/24", "environment.GATEWAY": gateway},
		CPU:    1,
		Memory: 64 << 20,
	}
}

// ensureFresh deletes leftovers of an earlier run, ensures the instance and
// deletes it when the test ends.
func ensureFresh(t testing.TB, c *Client, spec InstanceSpec) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Delete(ctx, spec.Name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanup(t, c, spec.Name) })
	created, err := c.Ensure(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Fatalf("Ensure of a deleted instance %q reported it existing", spec.Name)
	}
}

func cleanup(t testing.TB, c *Client, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Delete(ctx, name); err != nil {
		t.Errorf("cleanup: %v", err)
	}
}

// httpBody GETs http://addr/ until it answers or ctx ends.
func httpBody(ctx context.Context, addr netip.Addr) (string, error) {
	hc := &http.Client{Timeout: 300 * time.Millisecond}
	for {
		body, err := getOnce(ctx, hc, addr)
		if err == nil {
			return body, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("GET http://%s/: %w (last: %v)", addr, ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func getOnce(ctx context.Context, hc *http.Client, addr netip.Addr) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr.String()+"/", nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s", resp.Status)
	}
	return strings.TrimSpace(string(b)), nil
}

func labCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestIntegrationLifecycle(t *testing.T) {
	lab := labtest.Require(t)
	c := connectUnix(t, lab.Standby)
	ctx := labCtx(t)
	const name = "t-lxd-life"
	spec := labSpec(lab, name, "10.200.1.190", lab.Standby.Gateway)
	ensureFresh(t, c, spec)
	if created, err := c.Ensure(ctx, spec); err != nil || created {
		t.Fatalf("second Ensure = %v, %v; want existing", created, err)
	}
	// Reconcile: a memory limit that is not whole MiB (sent as "NNNB") and a
	// shared data disk.
	data := sharedDir(t, "hello from the host")
	spec.Memory = 64<<20 + 4096
	spec.Devices = map[string]map[string]string{"data": {"type": "disk", "source": data, "path": "/data"}}
	if created, err := c.Ensure(ctx, spec); err != nil || created {
		t.Fatalf("reconciling Ensure = %v, %v", created, err)
	}

	if err := c.Start(ctx, name); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx, name); err != nil {
		t.Fatalf("Start of a running instance: %v", err)
	}
	if all, err := c.Statuses(ctx); err != nil || !all[name].Running || all[name].Status != "Running" {
		t.Fatalf("Statuses of a running instance: %s = %+v, %v", name, all[name], err)
	}
	ip, err := c.WaitIPv4(ctx, name, "eth0")
	if err != nil {
		t.Fatal(err)
	}
	if want := netip.MustParseAddr("10.200.1.190"); ip != want {
		t.Fatalf("WaitIPv4 = %v, want %v", ip, want)
	}
	if body, err := httpBody(ctx, ip); err != nil || body != name {
		t.Fatalf("GET = %q, %v; want %q", body, err, name)
	}
	res, err := c.Exec(ctx, name, []string{"cat", "/var/www/index.html"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 || strings.TrimSpace(string(res.Stdout)) != name {
		t.Fatalf("exec cat = %+v", res)
	}
	res, err = c.Exec(ctx, name, []string{"cat", "/data/hello"}, nil)
	if err != nil || res.ExitCode != 0 || strings.TrimSpace(string(res.Stdout)) != "hello from the host" {
		t.Fatalf("exec cat /data/hello = %+v, %v", res, err)
	}
	assertMemoryLimit(t, name, "67112960")
	res, err = c.Exec(ctx, name, []string{"sh", "-c", "echo $GREETING >&2; exit 7"}, map[string]string{"GREETING": "hello"})
	if err != nil || res.ExitCode != 7 || strings.TrimSpace(string(res.Stderr)) != "hello" {
		t.Fatalf("exec with env and exit code = %+v, %v", res, err)
	}

	// A command outliving ctx returns with ctx's error.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = c.Exec(short, name, []string{"sleep", "30"}, nil)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("exec sleep 30 with a 300ms context = %v, want deadline exceeded", err)
	}

	// Frozen: the state says so and the service does not answer.
	if err := c.Freeze(ctx, name); err != nil {
		t.Fatal(err)
	}
	if st, err := c.State(ctx, name); err != nil || !st.Frozen || st.Running {
		t.Fatalf("State after Freeze = %+v, %v", st, err)
	}
	if all, err := c.Statuses(ctx); err != nil || !all[name].Frozen || all[name].Running || all[name].Status != "Frozen" {
		t.Fatalf("Statuses after Freeze: %s = %+v, %v", name, all[name], err)
	}
	if _, err := getOnce(ctx, &http.Client{Timeout: 300 * time.Millisecond}, ip); err == nil {
		t.Error("a frozen container answered HTTP")
	}
	if err := c.Unfreeze(ctx, name); err != nil {
		t.Fatal(err)
	}
	if body, err := httpBody(ctx, ip); err != nil || body != name {
		t.Fatalf("GET after Unfreeze = %q, %v", body, err)
	}

	// Graceful stop (the image's init handles SIGPWR), then a forced one.
	if err := c.Stop(ctx, name, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	assertStatus(t, c, name, "Stopped")
	if err := c.Stop(ctx, name, time.Second); err != nil {
		t.Fatalf("Stop of a stopped instance: %v", err)
	}
	if err := c.Start(ctx, name); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(ctx, name, 0); err != nil {
		t.Fatal(err)
	}
	assertStatus(t, c, name, "Stopped")

	if err := c.Delete(ctx, name); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, name); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
	if _, err := c.State(ctx, name); !errors.Is(err, ErrNotFound) {
		t.Fatalf("State of a deleted instance = %v, want ErrNotFound", err)
	}
}

// sharedDir makes a host directory an unprivileged container can read,
// holding the file hello.
func sharedDir(t *testing.T, content string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "t-lxd-data-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hello"), []byte(content+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// assertMemoryLimit reads the container's memory cgroup limit from the host
// (cgroup v1 layout of this lab; the check is skipped, with a log, elsewhere).
func assertMemoryLimit(t *testing.T, name, want string) {
	t.Helper()
	b, err := os.ReadFile("/sys/fs/cgroup/memory/lxc.payload." + name + "/memory.limit_in_bytes")
	if err != nil {
		t.Logf("memory limit not checked: %v", err)
		return
	}
	if got := strings.TrimSpace(string(b)); got != want {
		t.Errorf("memory limit of %q = %s, want %s", name, got, want)
	}
}

func assertStatus(t *testing.T, c *Client, name, want string) {
	t.Helper()
	st, err := c.State(context.Background(), name)
	if err != nil || st.Status != want {
		t.Fatalf("state of %q = %+v, %v; want %s", name, st, err, want)
	}
}

// An init that ignores the halt signal makes the graceful stop time out;
// Stop must then force it.
func TestIntegrationStopFallsBackToForce(t *testing.T) {
	lab := labtest.Require(t)
	c := connectUnix(t, lab.Standby)
	ctx := labCtx(t)
	const name = "t-lxd-stop"
	spec := labSpec(lab, name, "10.200.1.191", lab.Standby.Gateway)
	spec.Config["raw.lxc"] = "lxc.signal.halt = SIGUSR1" // not trapped by the image's init
	ensureFresh(t, c, spec)
	if err := c.Start(ctx, name); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitIPv4(ctx, name, "eth0"); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	c.log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if err := c.Stop(ctx, name, time.Second); err != nil {
		t.Fatal(err)
	}
	assertStatus(t, c, name, "Stopped")
	if !strings.Contains(logs.String(), "graceful stop failed, forcing") {
		t.Errorf("Stop did not go through the forced fallback; logs: %s", logs.String())
	}
}

func TestIntegrationSnapshotRestore(t *testing.T) {
	lab := labtest.Require(t)
	c := connectUnix(t, lab.Standby)
	ctx := labCtx(t)
	const name = "t-lxd-snap"
	ensureFresh(t, c, labSpec(lab, name, "10.200.1.192", lab.Standby.Gateway))
	if err := c.Start(ctx, name); err != nil {
		t.Fatal(err)
	}
	if err := c.Snapshot(ctx, name, "clean", false); err != nil {
		t.Fatal(err)
	}
	if err := c.Snapshot(ctx, name, "clean", false); err != nil {
		t.Fatalf("replacing a snapshot: %v", err)
	}
	if err := c.Snapshot(ctx, name, "cp", true); !errors.Is(err, ErrStatefulUnsupported) {
		t.Fatalf("stateful snapshot = %v, want ErrStatefulUnsupported", err)
	}
	if _, err := c.Exec(ctx, name, []string{"sh", "-c", "echo dirty > /marker"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Restore(ctx, name, "clean", false); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx, name); err != nil {
		t.Fatal(err)
	}
	res, err := c.Exec(ctx, name, []string{"test", "-e", "/marker"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode == 0 {
		t.Error("/marker survived the restore")
	}
	if err := c.Restore(ctx, name, "missing", false); !errors.Is(err, ErrNotFound) {
		t.Errorf("restore of a missing snapshot = %v, want ErrNotFound", err)
	}
}

func TestIntegrationHTTPS(t *testing.T) {
	lab := labtest.Require(t)
	c := connectHTTPS(t, lab, lab.Standby)
	ctx := labCtx(t)
	info, err := c.ServerInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Version == "" || info.Driver == "" {
		t.Errorf("ServerInfo = %+v", info)
	}
	t.Logf("standby-1 over HTTPS: %+v", info)
	if ok, err := c.ImageExists(ctx, lab.Image); err != nil || !ok {
		t.Errorf("ImageExists(%q) = %v, %v", lab.Image, ok, err)
	}
	const name = "t-lxd-https"
	ensureFresh(t, c, labSpec(lab, name, "10.200.1.196", lab.Standby.Gateway))
	if err := c.Start(ctx, name); err != nil {
		t.Fatal(err)
	}
	ip, err := c.WaitIPv4(ctx, name, "eth0")
	if err != nil {
		t.Fatal(err)
	}
	if body, err := httpBody(ctx, ip); err != nil || body != name {
		t.Fatalf("GET = %q, %v", body, err)
	}

	// A wrong pinned certificate is refused.
	_, err = Connect(ctx, Conn{Name: "pinned-wrong", URL: lab.Standby.HTTPS, ClientCert: lab.ClientCert, ClientKey: lab.ClientKey, ServerCert: lab.Spare.ServerCert})
	if err == nil {
		t.Error("Connect with another daemon's certificate pinned succeeded")
	}
}

func TestIntegrationCopyToSpare(t *testing.T) {
	lab := labtest.Require(t)
	src := connectHTTPS(t, lab, lab.Standby)
	dst := connectHTTPS(t, lab, lab.Spare)
	ctx := labCtx(t)
	const name = "t-lxd-copy"
	ensureFresh(t, src, labSpec(lab, name, "10.200.1.193", lab.Standby.Gateway))
	cleanup(t, dst, name)
	t.Cleanup(func() { cleanup(t, dst, name) })
	if err := src.Start(ctx, name); err != nil {
		t.Fatal(err)
	}
	override := map[string]string{"environment.IPADDR": "10.200.2.193/24", "environment.GATEWAY": lab.Spare.Gateway}
	if err := src.Copy(ctx, dst, name, CopyOptions{Start: true, Config: override}); err != nil {
		t.Fatal(err)
	}
	ip, err := dst.WaitIPv4(ctx, name, "eth0")
	if err != nil {
		t.Fatal(err)
	}
	if want := netip.MustParseAddr("10.200.2.193"); ip != want {
		t.Fatalf("copy's address = %v, want %v", ip, want)
	}
	if body, err := httpBody(ctx, ip); err != nil || body != name {
		t.Fatalf("GET on the copy = %q, %v", body, err)
	}
	if st, err := src.State(ctx, name); err != nil || !st.Running {
		t.Errorf("source after a copy = %+v, %v; want running again", st, err)
	}
	if err := src.Copy(ctx, dst, name, CopyOptions{Config: override}); !errors.Is(err, ErrAlreadyExists) {
		t.Errorf("copy onto an existing target = %v, want ErrAlreadyExists", err)
	}

	// Move it back under another name, relaying through this process.
	const back = "t-lxd-copy2"
	cleanup(t, src, back)
	t.Cleanup(func() { cleanup(t, src, back) })
	moveBack := CopyOptions{TargetName: back, Move: true, Start: true, Mode: "relay",
		Config: map[string]string{"environment.IPADDR": "10.200.1.194/24", "environment.GATEWAY": lab.Standby.Gateway}}
	if err := dst.Copy(ctx, src, name, moveBack); err != nil {
		t.Fatal(err)
	}
	if _, err := dst.State(ctx, name); !errors.Is(err, ErrNotFound) {
		t.Errorf("source after a move = %v, want ErrNotFound", err)
	}
	ip, err = src.WaitIPv4(ctx, back, "eth0")
	if err != nil {
		t.Fatal(err)
	}
	if body, err := httpBody(ctx, ip); err != nil || body != back {
		t.Fatalf("GET on the moved copy = %q, %v", body, err)
	}
}
