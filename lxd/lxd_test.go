package lxd

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lxc/incus/v6/shared/api"
)

func testClient(t *testing.T) (*Client, *fakeServer) {
	t.Helper()
	f := newFake()
	c := newClient(f, "fake-host")
	c.pollInterval = time.Millisecond
	if err := c.detect(ctxT(t)); err != nil { // LXD 5.0.2: every workaround
		t.Fatal(err)
	}
	return c, f
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func webSpec() InstanceSpec {
	return InstanceSpec{
		Name:    "web",
		Image:   "understudy-busybox",
		Config:  map[string]string{"environment.IPADDR": "10.200.1.150/24"},
		Devices: map[string]map[string]string{"data": {"type": "disk", "source": "/srv/web", "path": "/data"}},
		CPU:     1,
		Memory:  256 << 20,
	}
}

func TestEnsureIsIdempotent(t *testing.T) {
	c, f := testClient(t)
	ctx := ctxT(t)
	created, err := c.Ensure(ctx, webSpec())
	if err != nil || !created {
		t.Fatalf("first Ensure = %v, %v; want created", created, err)
	}
	created, err = c.Ensure(ctx, webSpec())
	if err != nil || created {
		t.Fatalf("second Ensure = %v, %v; want existing", created, err)
	}
	if n := f.count("create"); n != 1 {
		t.Errorf("creates = %d, want 1", n)
	}
	if n := f.count("update"); n != 0 {
		t.Errorf("updates of an instance matching its spec = %d, want 0", n)
	}
	cfg := f.config("web")
	for k, want := range map[string]string{"limits.cpu": "1", "limits.memory": "256MiB", "environment.IPADDR": "10.200.1.150/24"} {
		if cfg[k] != want {
			t.Errorf("config %s = %q, want %q", k, cfg[k], want)
		}
	}
	if f.status("web") != api.Stopped {
		t.Errorf("Ensure left the instance %s, want it stopped", f.status("web"))
	}
}

func TestEnsureReconciles(t *testing.T) {
	tests := []struct {
		name   string
		change func(*InstanceSpec)
		key    string // config key to check, or "" for the data device
		want   string
	}{
		{"memory", func(s *InstanceSpec) { s.Memory = 512<<20 + 1 }, "limits.memory", "536870913B"},
		{"cpu", func(s *InstanceSpec) { s.CPU = 2 }, "limits.cpu", "2"},
		{"config", func(s *InstanceSpec) { s.Config["environment.IPADDR"] = "10.200.1.151/24" }, "environment.IPADDR", "10.200.1.151/24"},
		{"device", func(s *InstanceSpec) { s.Devices["data"]["source"] = "/srv/other" }, "", "/srv/other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := testClient(t)
			ctx := ctxT(t)
			if _, err := c.Ensure(ctx, webSpec()); err != nil {
				t.Fatal(err)
			}
			spec := webSpec()
			tt.change(&spec)
			created, err := c.Ensure(ctx, spec)
			if err != nil || created {
				t.Fatalf("Ensure = %v, %v", created, err)
			}
			inst, _, _ := f.GetInstance("web")
			got := inst.Config[tt.key]
			if tt.key == "" {
				got = inst.Devices["data"]["source"]
			}
			if got != tt.want {
				t.Errorf("after reconcile got %q, want %q", got, tt.want)
			}
			if inst.Config["volatile.base_image"] == "" {
				t.Error("reconcile dropped keys the spec does not name")
			}
			if n := f.count("update"); n != 1 {
				t.Errorf("updates = %d, want 1", n)
			}
		})
	}
}

func TestEnsureRevertsFailedCreate(t *testing.T) {
	c, f := testClient(t)
	f.dropConfigCreate = true // the daemon ignores the config: Ensure must update it...
	f.failUpdate = errors.New("update refused")
	_, err := c.Ensure(ctxT(t), webSpec()) // ...and the update fails
	if err == nil || !strings.Contains(err.Error(), "update refused") {
		t.Fatalf("Ensure error = %v, want the update's error", err)
	}
	if f.has("web") {
		t.Error("the half-made instance was left behind")
	}
	if n := f.count("delete"); n != 1 {
		t.Errorf("deletes = %d, want 1", n)
	}
}

func TestEnsureCancelledCreateIsCleanedUp(t *testing.T) {
	c, f := testClient(t)
	f.blockCreate = true
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Ensure(ctx, webSpec())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Ensure error = %v, want deadline exceeded", err)
	}
	if f.has("web") {
		t.Error("the instance of a cancelled create was left behind")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cancelled != 1 {
		t.Errorf("server-side operations cancelled = %d, want 1", f.cancelled)
	}
}

func TestEnsureLosingACreateRaceReconciles(t *testing.T) {
	c, f := testClient(t)
	f.createdByOther = true
	created, err := c.Ensure(ctxT(t), webSpec())
	if err != nil || created {
		t.Fatalf("Ensure = %v, %v; want the other creator's instance reconciled", created, err)
	}
	if got := f.config("web")["limits.memory"]; got != "256MiB" {
		t.Errorf("limits.memory = %q, want 256MiB", got)
	}
	if !f.has("web") || f.count("delete") != 0 {
		t.Error("the other creator's instance was deleted")
	}
}

func TestEnsureUnknownImage(t *testing.T) {
	c, _ := testClient(t)
	spec := webSpec()
	spec.Image = "nope"
	if _, err := c.Ensure(ctxT(t), spec); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Ensure with a missing image = %v, want ErrNotFound", err)
	}
}

func TestStop(t *testing.T) {
	tests := []struct {
		name           string
		start          api.StatusCode
		ignoreShutdown bool
		timeout        time.Duration
		graceful       int
		forced         int
	}{
		{"graceful works", api.Running, false, time.Second, 1, 0},
		{"graceful times out then forced", api.Running, true, time.Second, 1, 1},
		{"timeout 0 forces at once", api.Running, false, 0, 0, 1},
		{"frozen is forced", api.Frozen, false, time.Second, 0, 1},
		{"already stopped", api.Stopped, false, time.Second, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := testClient(t)
			ctx := ctxT(t)
			if _, err := c.Ensure(ctx, webSpec()); err != nil {
				t.Fatal(err)
			}
			f.setStatus("web", tt.start)
			f.ignoreShutdown = tt.ignoreShutdown
			if err := c.Stop(ctx, "web", tt.timeout); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if f.status("web") != api.Stopped {
				t.Errorf("status after Stop = %s", f.status("web"))
			}
			if g, fo := f.count("graceful-stop"), f.count("forced-stop"); g != tt.graceful || fo != tt.forced {
				t.Errorf("graceful/forced stops = %d/%d, want %d/%d", g, fo, tt.graceful, tt.forced)
			}
		})
	}
}

func TestStartFreezeUnfreeze(t *testing.T) {
	c, f := testClient(t)
	ctx := ctxT(t)
	if _, err := c.Ensure(ctx, webSpec()); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		do   func() error
		want api.StatusCode
	}{
		{"start", func() error { return c.Start(ctx, "web") }, api.Running},
		{"start again", func() error { return c.Start(ctx, "web") }, api.Running},
		{"freeze", func() error { return c.Freeze(ctx, "web") }, api.Frozen},
		{"freeze again", func() error { return c.Freeze(ctx, "web") }, api.Frozen},
		{"unfreeze", func() error { return c.Unfreeze(ctx, "web") }, api.Running},
		{"unfreeze again", func() error { return c.Unfreeze(ctx, "web") }, api.Running},
		{"freeze for start", func() error { return c.Freeze(ctx, "web") }, api.Frozen},
		{"start a frozen one", func() error { return c.Start(ctx, "web") }, api.Running},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := f.status("web"); got != s.want {
			t.Fatalf("after %s: status %s, want %s", s.name, got, s.want)
		}
	}
	if n := f.count("start"); n != 1 {
		t.Errorf("daemon starts = %d, want 1", n)
	}
	if n, m := f.count("freeze"), f.count("unfreeze"); n != 2 || m != 2 {
		t.Errorf("freezes/unfreezes = %d/%d, want 2/2", n, m)
	}
}

func TestNotFound(t *testing.T) {
	c, _ := testClient(t)
	ctx := ctxT(t)
	ops := map[string]func() error{
		"State":    func() error { _, err := c.State(ctx, "ghost"); return err },
		"Start":    func() error { return c.Start(ctx, "ghost") },
		"Stop":     func() error { return c.Stop(ctx, "ghost", time.Second) },
		"Freeze":   func() error { return c.Freeze(ctx, "ghost") },
		"Unfreeze": func() error { return c.Unfreeze(ctx, "ghost") },
		"WaitIPv4": func() error { _, err := c.WaitIPv4(ctx, "ghost", "eth0"); return err },
		"Exec":     func() error { _, err := c.Exec(ctx, "ghost", []string{"true"}, nil); return err },
		"Snapshot": func() error { return c.Snapshot(ctx, "ghost", "s", false) },
		"Restore":  func() error { return c.Restore(ctx, "ghost", "s", false) },
		"Copy":     func() error { return c.Copy(ctx, c, "ghost", CopyOptions{TargetName: "g2"}) },
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			err := op()
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("error = %v, want ErrNotFound", err)
			}
			if !strings.Contains(err.Error(), `"ghost"`) || !strings.Contains(err.Error(), `"fake-host"`) {
				t.Errorf("error %q does not name the instance and the server", err)
			}
		})
	}
	if err := c.Delete(ctx, "ghost"); err != nil {
		t.Errorf("Delete of an absent instance = %v, want nil", err)
	}
}

func TestStatefulRefused(t *testing.T) {
	c, f := testClient(t)
	ctx := ctxT(t)
	if _, err := c.Ensure(ctx, webSpec()); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	dst := newClient(newFake(), "other")
	refused := map[string]func() error{
		"stateful snapshot": func() error { return c.Snapshot(ctx, "web", "cp", true) },
		"stateful restore":  func() error { return c.Restore(ctx, "web", "cp", true) },
		"live copy":         func() error { return c.Copy(ctx, dst, "web", CopyOptions{Live: true}) },
	}
	for name, op := range refused {
		if err := op(); !errors.Is(err, ErrStatefulUnsupported) {
			t.Errorf("%s: error = %v, want ErrStatefulUnsupported", name, err)
		}
	}
	if n := f.count("snapshot") + f.count("copy") + f.count("restore"); n != 0 {
		t.Errorf("refused work reached the daemon %d times", n)
	}
	// Live copy needs both ends proven.
	c.SetStateful(true)
	if err := c.Copy(ctx, dst, "web", CopyOptions{Live: true}); !errors.Is(err, ErrStatefulUnsupported) {
		t.Errorf("live copy to an unproven target = %v, want ErrStatefulUnsupported", err)
	}
	if err := c.Snapshot(ctx, "web", "cp", true); err != nil {
		t.Errorf("stateful snapshot once enabled: %v", err)
	}
}

func TestStateAndWaitIPv4(t *testing.T) {
	c, _ := testClient(t)
	ctx := ctxT(t)
	if _, err := c.Ensure(ctx, webSpec()); err != nil {
		t.Fatal(err)
	}
	st, err := c.State(ctx, "web")
	if err != nil || st.Running || st.Status != "Stopped" || len(st.Addresses) != 0 {
		t.Fatalf("State of a stopped instance = %+v, %v", st, err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := c.WaitIPv4(short, "web", "eth0"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitIPv4 on a stopped instance = %v, want deadline exceeded", err)
	}
	if err := c.Start(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	st, err = c.State(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Addr{netip.MustParseAddr("10.200.1.150")}
	if !st.Running || len(st.Addresses) != 1 || len(st.Addresses["eth0"]) != 1 || st.Addresses["eth0"][0] != want[0] {
		t.Errorf("State = %+v, want running with only eth0's global %v", st, want)
	}
	ip, err := c.WaitIPv4(ctx, "web", "eth0")
	if err != nil || ip != want[0] {
		t.Errorf("WaitIPv4 = %v, %v; want %v", ip, err, want[0])
	}
}

func TestExec(t *testing.T) {
	c, f := testClient(t)
	ctx := ctxT(t)
	f.exec = func(argv []string) (int, string, string) {
		return 3, strings.Join(argv, " "), "oops"
	}
	if _, err := c.Ensure(ctx, webSpec()); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	res, err := c.Exec(ctx, "web", []string{"cat", "/var/www/index.html"}, map[string]string{"A": "b"})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 3 || string(res.Stdout) != "cat /var/www/index.html" || string(res.Stderr) != "oops" {
		t.Errorf("Exec = %+v", res)
	}
	if _, err := c.Exec(ctx, "web", nil, nil); err == nil {
		t.Error("Exec of an empty command succeeded")
	}
}

func TestSnapshotReplaceAndRestore(t *testing.T) {
	c, f := testClient(t)
	ctx := ctxT(t)
	if _, err := c.Ensure(ctx, webSpec()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := c.Snapshot(ctx, "web", "ready", false); err != nil {
			t.Fatalf("snapshot %d: %v", i, err)
		}
	}
	if n := f.count("snapshot"); n != 2 {
		t.Errorf("snapshots taken = %d, want 2 (the second replaces the first)", n)
	}
	if err := c.Restore(ctx, "web", "ready", false); err != nil {
		t.Fatal(err)
	}
	if err := c.Restore(ctx, "web", "missing", false); !errors.Is(err, ErrNotFound) {
		t.Errorf("restore of a missing snapshot = %v, want ErrNotFound", err)
	}
}

func TestCopy(t *testing.T) {
	tests := []struct {
		name       string
		opts       CopyOptions
		sourceLeft bool
	}{
		{"copy", CopyOptions{TargetName: "web2", Start: true, Config: map[string]string{"environment.IPADDR": "10.200.2.150/24", "limits.cpu": ""}}, true},
		{"move", CopyOptions{Move: true, Start: true, Config: map[string]string{"environment.IPADDR": "10.200.2.150/24", "limits.cpu": ""}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, src := testClient(t)
			dstFake := newFake()
			dst := newClient(dstFake, "spare")
			ctx := ctxT(t)
			if _, err := c.Ensure(ctx, webSpec()); err != nil {
				t.Fatal(err)
			}
			if err := c.Start(ctx, "web"); err != nil {
				t.Fatal(err)
			}
			if err := c.Copy(ctx, dst, "web", tt.opts); err != nil {
				t.Fatalf("Copy: %v", err)
			}
			target := tt.opts.TargetName
			if target == "" {
				target = "web"
			}
			if dstFake.status(target) != api.Running {
				t.Errorf("target %q is %s, want running", target, dstFake.status(target))
			}
			cfg := dstFake.config(target)
			if cfg["environment.IPADDR"] != "10.200.2.150/24" || cfg["volatile.eth0.hwaddr"] != "" || cfg["volatile.base_image"] == "" {
				t.Errorf("target config = %v: want the override, no volatile keys but base_image", cfg)
			}
			if _, ok := cfg["limits.cpu"]; ok {
				t.Error("an empty override did not remove the key")
			}
			if src.has("web") != tt.sourceLeft {
				t.Errorf("source present = %v, want %v", src.has("web"), tt.sourceLeft)
			}
			if tt.sourceLeft && src.status("web") != api.Running {
				t.Errorf("source is %s after a copy, want running again", src.status("web"))
			}
			if err := c.Copy(ctx, dst, "web", tt.opts); tt.sourceLeft && !errors.Is(err, ErrAlreadyExists) {
				t.Errorf("second copy = %v, want ErrAlreadyExists", err)
			}
		})
	}
}

// TestLiveCopy: a live copy is a stateful stop of the source (after
// setting migration.stateful on Incus), a copy of the stopped instance with
// its checkpoint, and a stateful start of the copy; the source is left
// stopped with its checkpoint.
func TestLiveCopy(t *testing.T) {
	c, src := incusClient(t)
	dstFake := newFake()
	dstFake.server, dstFake.version = "incus", "6.0.4"
	dst := newClient(dstFake, "spare")
	ctx := ctxT(t)
	if _, err := c.Ensure(ctx, webSpec()); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	c.SetStateful(true)
	dst.SetStateful(true)
	if err := c.Copy(ctx, dst, "web", CopyOptions{Live: true, Config: map[string]string{"environment.IPADDR": ""}}); err != nil {
		t.Fatalf("live Copy: %v", err)
	}
	if src.count("stop-stateful") != 1 || dstFake.count("start-stateful") != 1 || src.count("forced-stop") != 0 {
		t.Errorf("stateful stops %d, stateful starts on the target %d, forced stops %d: want 1, 1, 0",
			src.count("stop-stateful"), dstFake.count("start-stateful"), src.count("forced-stop"))
	}
	if dstFake.status("web") != api.Running || dstFake.config("web")["migration.stateful"] != "true" {
		t.Errorf("target %s with config %v, want running from the checkpoint", dstFake.status("web"), dstFake.config("web"))
	}
	if src.status("web") != api.Stopped {
		t.Errorf("source is %s after a live copy, want stopped (its state moved)", src.status("web"))
	}
}

// TestLiveCopyRestoresSourceWhenTargetFails: a failed stateful start of
// the copy deletes it and restores the source from its checkpoint.
func TestLiveCopyRestoresSourceWhenTargetFails(t *testing.T) {
	c, src := incusClient(t)
	dstFake := newFake() // LXD: the copy carries migration.stateful, which LXD 5.0 refuses in this fake
	dstFake.server = "incus"
	dstFake.failStart = errors.New("restore failed")
	dst := newClient(dstFake, "spare")
	ctx := ctxT(t)
	if _, err := c.Ensure(ctx, webSpec()); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	c.SetStateful(true)
	dst.SetStateful(true)
	err := c.Copy(ctx, dst, "web", CopyOptions{Live: true})
	if err == nil || !strings.Contains(err.Error(), "stateful start of the copy") {
		t.Fatalf("Copy = %v, want the copy's failed stateful start", err)
	}
	if dstFake.has("web") {
		t.Error("the partial copy was left on the target")
	}
	if src.status("web") != api.Running || src.count("start-stateful") != 1 {
		t.Errorf("source %s after %d stateful starts, want running again from its checkpoint", src.status("web"), src.count("start-stateful"))
	}
}

func TestCopyRevertsWhenTargetFailsToStart(t *testing.T) {
	c, src := testClient(t)
	dstFake := newFake()
	dstFake.failStart = errors.New("no room")
	dst := newClient(dstFake, "spare")
	ctx := ctxT(t)
	if _, err := c.Ensure(ctx, webSpec()); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	err := c.Copy(ctx, dst, "web", CopyOptions{Move: true, Start: true})
	if err == nil || !strings.Contains(err.Error(), "no room") {
		t.Fatalf("Copy = %v, want the target's start error", err)
	}
	if dstFake.has("web") {
		t.Error("the partial copy was left on the target")
	}
	if src.status("web") != api.Running {
		t.Errorf("source is %s after a failed move, want running again", src.status("web"))
	}
}

func TestDelete(t *testing.T) {
	c, f := testClient(t)
	ctx := ctxT(t)
	if _, err := c.Ensure(ctx, webSpec()); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := c.Delete(ctx, "web"); err != nil {
			t.Fatalf("delete %d: %v", i, err)
		}
	}
	if f.has("web") {
		t.Error("instance still present")
	}
	if f.count("forced-stop") != 1 || f.count("delete") != 1 {
		t.Errorf("forced stops/deletes = %d/%d, want 1/1", f.count("forced-stop"), f.count("delete"))
	}
}

func TestServerInfoAndImageExists(t *testing.T) {
	c, _ := testClient(t)
	ctx := ctxT(t)
	info, err := c.ServerInfo(ctx)
	if err != nil || info.Version != "5.0.2" || info.Server != "lxd" || info.Name != "fake" {
		t.Errorf("ServerInfo = %+v, %v", info, err)
	}
	for alias, want := range map[string]bool{"understudy-busybox": true, "nope": false} {
		got, err := c.ImageExists(ctx, alias)
		if err != nil || got != want {
			t.Errorf("ImageExists(%q) = %v, %v; want %v", alias, got, err, want)
		}
	}
}

func TestMemoryLimit(t *testing.T) {
	for in, want := range map[int64]string{256 << 20: "256MiB", 1 << 30: "1024MiB", 1000: "1000B", 3<<20 + 5: "3145733B"} {
		if got := memoryLimit(in); got != want {
			t.Errorf("memoryLimit(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestConnectRefusesBadConn(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "client.key")
	if err := os.WriteFile(secret, []byte("-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		conn Conn
		want string
	}{
		{"neither", Conn{}, "exactly one of socket and url"},
		{"both", Conn{Socket: "/x", URL: "https://127.0.0.1:1"}, "exactly one of socket and url"},
		{"no client cert", Conn{URL: "https://127.0.0.1:1", ClientKey: secret}, "client certificate: no file given"},
		{"missing server cert", Conn{URL: "https://127.0.0.1:1", ClientCert: secret, ClientKey: secret, ServerCert: filepath.Join(dir, "nope")}, "read server certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Connect(ctxT(t), tt.conn)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Connect = %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "c2VjcmV0") {
				t.Error("the error leaks file content")
			}
		})
	}
}

func TestReverter(t *testing.T) {
	var order []string
	step := func(s string) func(context.Context) error {
		return func(context.Context) error { order = append(order, s); return nil }
	}
	r := newReverter(context.Background(), newClient(newFake(), "x").log)
	r.add("a", step("a"))
	r.add("b", func(context.Context) error { order = append(order, "b"); return errors.New("ignored") })
	r.add("c", step("c"))
	r.fail()
	r.fail()
	if got := strings.Join(order, ","); got != "c,b,a" {
		t.Errorf("undo order = %s, want c,b,a once", got)
	}
	order = nil
	r = newReverter(context.Background(), newClient(newFake(), "x").log)
	r.add("a", step("a"))
	r.success()
	r.fail()
	if len(order) != 0 {
		t.Errorf("undo ran after success: %v", order)
	}
}

// TestEnsureRemovesWhatNoSpecAsks: a container prepared by an older agent
// (or changed by hand) keeps nothing a spec may not ask for: config keys
// outside the inventory's allow-list go, the daemon's own keys and allowed
// ones stay, and the data disk goes once the spec has none.
func TestEnsureRemovesWhatNoSpecAsks(t *testing.T) {
	c, f := testClient(t)
	ctx := ctxT(t)
	old := webSpec()
	old.Devices[DataDiskDevice] = map[string]string{"type": "disk", "source": "/srv/web-data", "path": "/var/lib/web"}
	if _, err := c.Ensure(ctx, old); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	cfg := f.instances["web"].inst.Config
	for k, v := range map[string]string{
		"security.nesting": "true", "raw.lxc": "lxc.apparmor.profile=unconfined", "linux.kernel_modules": "overlay",
		"security.privileged": "false", "image.os": "busybox", "user.note": "kept", "environment.EXTRA": "kept",
	} {
		cfg[k] = v
	}
	f.mu.Unlock()
	updates := f.count("update")
	if _, err := c.Ensure(ctx, webSpec()); err != nil {
		t.Fatal(err)
	}
	inst, _, _ := f.GetInstance("web")
	for _, k := range []string{"security.nesting", "raw.lxc", "linux.kernel_modules"} {
		if v, ok := inst.Config[k]; ok {
			t.Errorf("config %s=%q kept, want it removed", k, v)
		}
	}
	for _, k := range []string{"security.privileged", "image.os", "user.note", "environment.EXTRA", "volatile.base_image", "limits.cpu", "environment.IPADDR"} {
		if _, ok := inst.Config[k]; !ok {
			t.Errorf("config %s removed, want it kept", k)
		}
	}
	if d, ok := inst.Devices[DataDiskDevice]; ok {
		t.Errorf("device %s = %v kept, want it removed (the spec has no data disk)", DataDiskDevice, d)
	}
	if inst.Devices["data"] == nil {
		t.Error("device data removed, want it kept (the spec has it)")
	}
	if n := f.count("update") - updates; n != 1 {
		t.Errorf("updates = %d, want 1", n)
	}
	if _, err := c.Ensure(ctx, webSpec()); err != nil || f.count("update")-updates != 1 {
		t.Errorf("a third Ensure updated again (%v): the cleanup is not stable", err)
	}
}

func TestStartOfBusyInstanceWrapsErrBusy(t *testing.T) {
	c, f := testClient(t)
	ctx := ctxT(t)
	if _, err := c.Ensure(ctx, webSpec()); err != nil {
		t.Fatal(err)
	}
	f.failStart = errors.New(`Instance is busy running a "update" operation`)
	err := c.Start(ctx, "web")
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), `start instance "web"`) {
		t.Fatalf("Start of a busy instance = %v, want ErrBusy with the daemon's text", err)
	}
	// An image named busybox is not a busy instance.
	f.failStart = errors.New(`create from image "understudy-busybox": not enough space`)
	if err := c.Start(ctx, "web"); err == nil || errors.Is(err, ErrBusy) {
		t.Fatalf("Start = %v, want an error that is not ErrBusy", err)
	}
}
