package standby

import (
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestIntegrationDataDiskServedAfterActivation: a service with a data disk
// (a directory under the lab dir holding a file) is prepared warm and cold
// on standby-1, activated as a failover does, and its httpd serves the file
// from the disk mounted under /var/www. A source that is missing on the
// standby host fails prepare instead.
func TestIntegrationDataDiskServedAfterActivation(t *testing.T) {
	la := startLabAgent(t, nil)
	dir := filepath.Join(la.lab.Dir, "t-standby-data")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	content := "data disk " + strconv.FormatInt(time.Now().UnixNano(), 10)
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []Mode{ModeCold, ModeWarm} {
		t.Run(string(mode), func(t *testing.T) {
			spec := la.service(t, "t-standby-disk-"+string(mode), mode)
			spec.DataDisk = &DataDisk{Source: dir, Path: "/var/www/data"}
			if _, err := la.client.Prepare(t.Context(), 1, spec); err != nil {
				t.Fatal(err)
			}
			act, err := la.client.Activate(t.Context(), 1, spec.Name)
			if err != nil {
				t.Fatal(err)
			}
			if got := httpGetPath(t, act.Address, "/data/hello.txt"); got != content {
				t.Errorf("GET /data/hello.txt from the standby container = %q, want %q", got, content)
			}
		})
	}
	t.Run("missing source", func(t *testing.T) {
		spec := la.service(t, "t-standby-disk-missing", ModeCold)
		spec.DataDisk = &DataDisk{Source: filepath.Join(la.lab.Dir, "t-standby-data-missing"), Path: "/var/www/data"}
		if _, err := la.client.Prepare(t.Context(), 1, spec); !errors.Is(err, ErrDataDiskMissing) {
			t.Errorf("prepare with a missing source: err = %v, want ErrDataDiskMissing", err)
		}
	})
}

// httpGetPath fetches http://addr/path and returns the body.
func httpGetPath(t testing.TB, addr, path string) string {
	t.Helper()
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		t.Fatalf("GET http://%s%s: %v", addr, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET http://%s%s: %s", addr, path, resp.Status)
	}
	return string(body)
}
