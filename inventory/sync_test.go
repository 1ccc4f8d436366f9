package inventory_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/inventory"
)

// withSync returns testdata/valid.yaml with block added to the first
// service (web) after its container config, indented as its keys are, and
// the line the block starts on.
func withSync(t *testing.T, block string) ([]byte, int) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "valid.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	anchor := "      config: {security.nesting: \"false\", environment.MODE: standby}\n"
	i := strings.Index(string(data), anchor)
	if i < 0 {
		t.Fatal("valid.yaml changed: the web service's container config line is gone")
	}
	at := i + len(anchor)
	line := strings.Count(string(data[:at]), "\n") + 1
	return []byte(string(data[:at]) + block + string(data[at:])), line
}

func TestSyncDefaults(t *testing.T) {
	data, _ := withSync(t, "    sync:\n      paths: [/var/www]\n")
	inv, err := inventory.Parse(filepath.Join("testdata", "valid.yaml"), data)
	if err != nil {
		t.Fatal(err)
	}
	s := inv.Service("web").Sync
	if s == nil {
		t.Fatal("web has no sync")
	}
	if len(s.Paths) != 1 || s.Paths[0] != "/var/www" {
		t.Errorf("paths = %q, want [/var/www]", s.Paths)
	}
	if s.Every != inventory.DefaultSyncEvery || s.Method != inventory.SyncIncus || s.MaxRPO != inventory.DefaultSyncMaxRPOFactor*inventory.DefaultSyncEvery {
		t.Errorf("defaults = every %s method %q max-rpo %s, want %s, incus, %s", s.Every, s.Method, s.MaxRPO, inventory.DefaultSyncEvery, 3*inventory.DefaultSyncEvery)
	}
	if inv.Service("api").Sync != nil {
		t.Error("api has a sync it did not write")
	}
}

func TestSyncMaxRPOFollowsEvery(t *testing.T) {
	data, _ := withSync(t, "    sync: {paths: [/var/www, /etc/app], every: 10s}\n")
	inv, err := inventory.Parse(filepath.Join("testdata", "valid.yaml"), data)
	if err != nil {
		t.Fatal(err)
	}
	if s := inv.Service("web").Sync; s.Every != 10*time.Second || s.MaxRPO != 30*time.Second || len(s.Paths) != 2 {
		t.Errorf("sync = %+v, want every 10s, max-rpo 30s, 2 paths", *s)
	}
}

func TestSyncErrors(t *testing.T) {
	cases := []struct {
		name, block string
		want        []string // "LINEOFFSET:COL: path: message", offset from the block's first line
	}{
		{"no paths", "    sync: {every: 10s}\n", []string{"0:11: services[0].sync.paths: required: the directories to copy, such as [/var/www] (or whole-instance: true)"}},
		{"whole-instance warm", "    sync:\n      whole-instance: true\n", []string{
			"1:23: services[0].sync.whole-instance: needs mode cold, the service's mode is warm: the refreshed copy is swapped in while the standby container is stopped, and a warm standby's container is not; sync paths instead",
		}},
		{"whole-instance and paths", "    sync:\n      whole-instance: true\n      paths: [/a]\n", []string{
			"1:23: services[0].sync.whole-instance: cannot be combined with paths: the whole instance already holds them; write one of the two",
		}},
		{"relative", "    sync:\n      paths: [www, /var//www, /]\n", []string{
			"1:15: services[0].sync.paths[0]: \"www\" must be an absolute path",
			"1:20: services[0].sync.paths[1]: \"/var//www\" is not clean: write \"/var/www\"",
			"1:31: services[0].sync.paths[2]: cannot sync the whole file system: name the directories that hold the content",
		}},
		{"twice", "    sync:\n      paths: [/a, /a]\n", []string{"1:19: services[0].sync.paths[1]: \"/a\" is listed twice"}},
		{"short every", "    sync:\n      paths: [/a]\n      every: 100ms\n", []string{"2:14: services[0].sync.every: must be at least 1s, got 100ms"}},
		{"method", "    sync:\n      paths: [/a]\n      method: scp\n", []string{"2:15: services[0].sync.method: invalid method \"scp\": want incus or rsync"}},
		{"rsync", "    sync:\n      paths: [/a]\n      method: rsync\n", []string{"2:15: services[0].sync.method: rsync is not supported yet: use incus"}},
		{"max-rpo", "    sync:\n      paths: [/a]\n      every: 1m\n      max-rpo: 30s\n", []string{"3:16: services[0].sync.max-rpo: 30s is shorter than every (1m0s): every copy would count as too old"}},
		{"data disk", "      data-disk: {source: /srv/web, path: /var/www}\n    sync:\n      paths: [/var/www, /var/www/img, /var, /etc]\n", []string{
			"2:15: services[0].sync.paths[0]: \"/var/www\" is the shared data disk's path (container.data-disk.path): the standby already mounts it; do not sync it",
			"2:25: services[0].sync.paths[1]: \"/var/www/img\" is inside the shared data disk (container.data-disk.path \"/var/www\"): the standby already mounts it; do not sync it",
			"2:39: services[0].sync.paths[2]: \"/var\" contains the shared data disk (container.data-disk.path \"/var/www\"): sync the directories beside it instead",
		}},
		{"unknown key", "    sync:\n      paths: [/a]\n      evry: 1m\n", []string{"2:7: services[0].sync.evry: unknown key, did you mean \"every\"?"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data, line := withSync(t, c.block)
			_, err := inventory.Parse("inv.yaml", data)
			var errs inventory.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Parse = %v, want inventory.Errors", err)
			}
			var got []string
			for _, e := range errs {
				got = append(got, strings.TrimPrefix(e.Error(), "inv.yaml:"))
			}
			var want []string
			for _, w := range c.want {
				off, rest, _ := strings.Cut(w, ":")
				n := 0
				for _, ch := range off {
					n = n*10 + int(ch-'0')
				}
				want = append(want, strconv.Itoa(line+n)+":"+rest)
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestSyncRefusesRestoreMode(t *testing.T) {
	data, _ := withSync(t, "    sync: {paths: [/var/www]}\n")
	data = []byte(strings.Replace(string(data), "    mode: warm\n", "    mode: restore\n", 1))
	_, err := inventory.Parse("inv.yaml", data)
	if err == nil || !strings.Contains(err.Error(), "services[0].mode: a service with sync cannot use mode restore") {
		t.Errorf("Parse = %v, want the restore mode refused", err)
	}
}

func TestSyncWholeInstanceCold(t *testing.T) {
	data, _ := withSync(t, "    sync: {whole-instance: true, every: 30s}\n")
	data = []byte(strings.Replace(string(data), "    mode: warm\n", "    mode: cold\n", 1))
	inv, err := inventory.Parse("inv.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if s := inv.Service("web").Sync; !s.WholeInstance || len(s.Paths) != 0 || s.Every != 30*time.Second {
		t.Errorf("sync = %+v, want whole-instance every 30s", *s)
	}
}
