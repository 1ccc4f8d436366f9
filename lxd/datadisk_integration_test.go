package lxd

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/labtest"
)

// TestIntegrationCopyKeepsDataDisk: a service container with a data disk
// (a disk device whose source is a host directory) copied to a spare keeps
// the device, and the copy serves the file from it. The source path must
// exist on the spare host too (in the lab all daemons share one host).
func TestIntegrationCopyKeepsDataDisk(t *testing.T) {
	lab := labtest.Require(t)
	src := connectHTTPS(t, lab, lab.Standby)
	dst := connectHTTPS(t, lab, lab.Spare)
	ctx := labCtx(t)
	dir := filepath.Join(lab.Dir, "t-lxd-data")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	content := "copied data disk " + strconv.FormatInt(time.Now().UnixNano(), 10)
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}

	const name = "t-lxd-disk"
	spec := labSpec(lab, name, "10.200.1.197", lab.Standby.Gateway)
	spec.Devices = map[string]map[string]string{"understudy-data": {"type": "disk", "source": dir, "path": "/var/www/data"}}
	ensureFresh(t, src, spec)
	cleanup(t, dst, name)
	t.Cleanup(func() { cleanup(t, dst, name) })
	override := map[string]string{"environment.IPADDR": "10.200.2.197/24", "environment.GATEWAY": lab.Spare.Gateway}
	if err := src.Copy(ctx, dst, name, CopyOptions{Start: true, Config: override}); err != nil {
		t.Fatal(err)
	}
	inst, _, err := dst.getInstance(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if d := inst.Devices["understudy-data"]; d["source"] != dir || d["path"] != "/var/www/data" {
		t.Errorf("the copy's data disk device = %v, want %s at /var/www/data", d, dir)
	}
	ip, err := dst.WaitIPv4(ctx, name, "eth0")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := httpPath(ctx, ip, "/data/hello.txt"); err != nil || got != content {
		t.Errorf("GET /data/hello.txt on the copy = %q, %v; want %q", got, err, content)
	}
}

// httpPath GETs http://addr/path until it answers 200 or ctx ends.
func httpPath(ctx context.Context, addr netip.Addr, path string) (string, error) {
	hc := &http.Client{Timeout: 300 * time.Millisecond}
	for {
		resp, err := hc.Get("http://" + addr.String() + path)
		if err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				return string(b), nil
			}
			err = fmt.Errorf("status %s, read: %v", resp.Status, rerr)
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("GET http://%s%s: %w (last: %v)", addr, path, ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
