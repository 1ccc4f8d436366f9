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
		{"no paths", "    sync: {every: 10s}\n", []string{"0:11: services[0].sync.paths: required: the directories to copy, such as [/var/www]"}},
		{"relative", "    sync:\n      paths: [www, /var//www, /]\n", []string{
			"1:15: services[0].sync.paths[0]: \"www\" must be an absolute path",
			"1:20: services[0].sync.paths[1]: \"/var//www\" is not clean: write \"/var/www\"",
			"1:31: services[0].sync.paths[2]: cannot sync the whole file system: name the directories that hold the content",
		}},
		{"twice", "    sync:\n      paths: [/a, /a]\n", []string{"1:19: services[0].sync.paths[1]: \"/a\" is listed twice"}},
		{"short every", "    sync:\n      paths: [/a]\n      every: 100ms\n", []string{"2:14: services[0].sync.every: must be at least 1s, got 100ms"}},
		{"method", "    sync:\n      paths: [/a]\n      method: scp\n", []string{"2:15: services[0].sync.method: invalid method \"scp\": want incus or rsync"}},
		{"rsync without ssh", "    sync:\n      paths: [/a]\n      method: rsync\n", []string{"2:15: services[0].sync.method: method rsync needs ssh: {key-file: ..., known-hosts: ...}"}},
		{"ssh with incus", "    sync:\n      paths: [/a]\n      ssh: {key-file: /k, known-hosts: /h}\n", []string{"2:12: services[0].sync.ssh: only method rsync logs in over SSH: remove ssh or set method: rsync"}},
		{"ssh fields", "    sync:\n      paths: [/a]\n      method: rsync\n      ssh: {user: \"-oProxy\", host: \"a b\", port: 70000}\n", []string{
			"2:15: services[0].sync.method: rsync is not supported yet: use incus",
			"3:12: services[0].sync.ssh.key-file: required",
			"3:12: services[0].sync.ssh.known-hosts: required",
			"3:19: services[0].sync.ssh.user: invalid user \"-oProxy\": use letters, digits, '.', '_' and '-'",
			"3:36: services[0].sync.ssh.host: invalid host \"a b\": want a host name or an IPv4 address",
			"3:49: services[0].sync.ssh.port: must be from 1 to 65535, got 70000",
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

// TestSyncRsyncFiles loads an inventory whose rsync key file is too open
// and whose known-hosts file is missing: both errors name the field, and
// the key's content never shows; with a 0600 key and a known-hosts file it
// passes the file checks.
func TestSyncRsyncFiles(t *testing.T) {
	dir := t.TempDir()
	key, kh := filepath.Join(dir, "id"), filepath.Join(dir, "known_hosts")
	const secret = "PRIVATE-KEY-CONTENT"
	if err := os.WriteFile(key, []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	block := "    sync:\n      paths: [/var/www]\n      method: rsync\n      ssh: {key-file: " + key + ", known-hosts: " + kh + "}\n"
	data, _ := withSync(t, block)
	// Load checks files: the inventory sits in testdata, beside the files
	// valid.yaml names.
	path := filepath.Join("testdata", "t-sync-rsync.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(path) })
	_, err := inventory.Load(path)
	if err == nil {
		t.Fatal("Load accepted a 0644 key and a missing known-hosts file")
	}
	msg := err.Error()
	for _, want := range []string{"services[0].sync.ssh.key-file: SSH key file " + key + " has mode 0644", "services[0].sync.ssh.known-hosts: cannot read the known-hosts file"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Load = %v, want %q", err, want)
		}
	}
	if strings.Contains(msg, secret) {
		t.Errorf("the error shows the key's content: %v", err)
	}
	if err := os.Chmod(key, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kh, []byte("10.0.0.1 ssh-ed25519 AAAA\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The files are good now: only the method's refusal remains (the
	// monitor has no rsync copy yet).
	_, err = inventory.Load(path)
	var errs inventory.Errors
	if !errors.As(err, &errs) || len(errs) != 1 || !strings.Contains(errs[0].Error(), "rsync is not supported yet") {
		t.Errorf("Load with a 0600 key = %v, want only rsync refused", err)
	}
}
