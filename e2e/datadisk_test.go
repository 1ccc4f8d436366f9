package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/monitor"
	"github.com/understudy/understudy/monitor/api"
)

// TestIntegrationFailoverServesDataDisk: a cold service with a data disk (a
// directory under the lab dir holding a file) fails over when its primary
// is force-stopped, and the standby container's httpd serves the file from
// the disk, mounted under /var/www. It shares the primary address .165
// with BenchmarkFailoverWarm (tests and benchmarks never run at once).
func TestIntegrationFailoverServesDataDisk(t *testing.T) {
	w := newWorld(t, 165, map[string]string{"disk": "cold"})
	s := w.services[0]
	dir := filepath.Join(w.lab.Dir, "t-e2e-data")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	content := "served from the data disk " + strconv.FormatInt(time.Now().UnixNano(), 10)
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	inv, err := os.ReadFile(w.invPath)
	if err != nil {
		t.Fatal(err)
	}
	old := "limits: {cpu: 1, memory: 64MiB}}\n"
	withDisk := strings.Replace(string(inv), old, "limits: {cpu: 1, memory: 64MiB}, data-disk: {source: "+dir+", path: /var/www/data}}\n", 1)
	if withDisk == string(inv) {
		t.Fatalf("no container line %q in the world's inventory", old)
	}
	if err := os.WriteFile(w.invPath, []byte(withDisk), 0o600); err != nil {
		t.Fatal(err)
	}

	r := w.startController(monitor.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), failoverBound)
	defer cancel()
	r.waitPrepared(ctx, t, s.Name)
	if err := r.waitMetric(ctx, "understudy_probe_target_up", "service/"+s.Name, func(v float64) bool { return v == 1 }); err != nil {
		t.Fatalf("monitor never saw the service up: %v", err)
	}
	if err := w.hostA.Stop(ctx, s.VM, 0); err != nil {
		t.Fatalf("force-stop primary: %v", err)
	}
	if _, err := r.waitService(ctx, s.Name, func(st api.ServiceStatus) bool { return st.State == "on-standby" }); err != nil {
		t.Fatalf("service never reached on-standby: %v", err)
	}
	addr, err := w.answersFromStandby(ctx, s)
	if err != nil {
		t.Fatalf("after failover: %v", err)
	}
	if got, err := getPath(ctx, addr, "/data/hello.txt"); err != nil || got != content {
		t.Errorf("GET http://%s/data/hello.txt = %q, %v; want %q from the data disk", addr, got, err, content)
	}
}

// getPath GETs http://addr/path once.
func getPath(ctx context.Context, addr, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return "", err
	}
	cl := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := cl.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET http://%s%s: %s", addr, path, resp.Status)
	}
	return string(b), nil
}
