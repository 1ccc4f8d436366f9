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
		{"rsync without a key", "    sync:\n      paths: [/a]\n      method: rsync\n", []string{"1:7: services[0].sync.ssh.key: required with method rsync: the private key file ssh logs in to the primary with"}},
		{"ssh without rsync", "    sync:\n      paths: [/a]\n      ssh: {key: /k}\n", []string{"2:12: services[0].sync.ssh: only method rsync uses ssh (method is incus)"}},
		{"whole-instance with rsync", "    sync: {whole-instance: true, method: rsync, ssh: {key: /k}}\n", []string{"0:28: services[0].sync.whole-instance: cannot be combined with method rsync: a whole-instance sync is Incus's incremental copy between the two hypervisors; rsync copies paths"}},
		{"ssh fields", "    sync:\n      paths: [/a]\n      method: rsync\n      ssh: {key: k, port: 0, user: \"a b\"}\n", []string{
			"3:27: services[0].sync.ssh.port: must be from 1 to 65535, got 0",
			"3:36: services[0].sync.ssh.user: invalid name \"a b\": use letters, digits, '.', '_' and '-', starting with a letter or digit, at most 63 characters",
		}},
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

// TestSyncRsync: method rsync takes the ssh key the inventory names (which
// must be private), logs in as root on port 22 by default, and keeps the
// primaries' host keys under monitor.state-dir.
func TestSyncRsync(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "sync.key")
	if err := os.WriteFile(key, []byte("not shown\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	data, line := withSync(t, "    sync:\n      paths: [/var/www]\n      method: rsync\n      ssh: {key: sync.key}\n")
	// The key's relative path is the inventory file's; the files valid.yaml
	// names go beside it.
	for _, f := range []string{"tsig.key", "playbook.yaml"} {
		b, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	invPath := filepath.Join(dir, "inv.yaml")
	if err := os.WriteFile(invPath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.Load(invPath)
	if err != nil {
		t.Fatal(err)
	}
	ssh := inv.Service("web").Sync.SSH
	want := inventory.SyncSSH{User: "root", Port: 22, Key: key}
	if ssh == nil || *ssh != want {
		t.Errorf("ssh = %+v, want %+v", ssh, want)
	}
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = inventory.Load(invPath)
	wantErr := invPath + ":" + strconv.Itoa(line+3) + ":18: services[0].sync.ssh.key: ssh key file " + key + " has mode 0644"
	if err == nil || !strings.Contains(err.Error(), wantErr) || strings.Contains(err.Error(), "not shown") {
		t.Errorf("Load = %v, want %q and never the key's content", err, wantErr)
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
