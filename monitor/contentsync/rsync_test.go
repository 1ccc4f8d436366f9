package contentsync

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestRsyncArgs(t *testing.T) {
	r := Rsync{User: "root", Host: "10.0.0.5", Port: 2222, Key: "/etc/understudy/my key", KnownHosts: "/var/lib/understudy/sync/known_hosts"}
	got := r.args("/var/www", "/m/var", 0)
	for _, want := range []string{"--archive", "--delete", "--numeric-ids", "--", "root@10.0.0.5:/var/www", "/m/var/"} {
		if !slices.Contains(got, want) {
			t.Errorf("args %q lack %q", got, want)
		}
	}
	e := got[slices.Index(got, "-e")+1]
	for _, want := range []string{"-i '/etc/understudy/my key'", "-p 2222", "BatchMode=yes", "StrictHostKeyChecking=accept-new", "UserKnownHostsFile=/var/lib/understudy/sync/known_hosts"} {
		if !strings.Contains(e, want) {
			t.Errorf("ssh command %q lacks %q", e, want)
		}
	}
	pct := Rsync{User: "u", Host: "h", Port: 22, Key: "/tmp/b%1/key", KnownHosts: "/tmp/b%1/kh"}.args("/a", "/m", 0)
	if e := pct[slices.Index(pct, "-e")+1]; !strings.Contains(e, "-i /tmp/b%%1/key") || !strings.Contains(e, "UserKnownHostsFile=/tmp/b%%1/kh") {
		t.Errorf("ssh command %q: a %% in a path must be written %%%% (ssh expands %%-tokens there)", e)
	}
	if got := (Rsync{User: "u", Host: "fd00::5", Port: 22}).args("/a", "/m", 0); got[len(got)-2] != "u@[fd00::5]:/a" {
		t.Errorf("IPv6: %q", got)
	}
	for _, a := range got {
		if strings.HasPrefix(a, "--bwlimit") {
			t.Errorf("args %q cap rsync on their own: the shared cap is the relay's", got)
		}
	}
}

// TestRsyncArgsThroughTheRelay: ssh connects to the relay's loopback port
// and checks the host key recorded under the primary's name.
func TestRsyncArgsThroughTheRelay(t *testing.T) {
	for _, c := range []struct {
		port  int
		alias string
	}{{22, "HostKeyAlias=10.0.0.5 "}, {2222, "HostKeyAlias=[10.0.0.5]:2222 "}} {
		r := Rsync{User: "root", Host: "10.0.0.5", Port: c.port, Key: "/k", KnownHosts: "/kh"}
		got := r.args("/var/www", "/m/var", 40123)
		if got[len(got)-2] != "root@127.0.0.1:/var/www" {
			t.Errorf("port %d: source %q, want the relay's address", c.port, got[len(got)-2])
		}
		e := got[slices.Index(got, "-e")+1]
		for _, want := range []string{"-p 40123 ", c.alias, "CheckHostIP=no", "StrictHostKeyChecking=accept-new"} {
			if !strings.Contains(e, want) {
				t.Errorf("port %d: ssh command %q lacks %q", c.port, e, want)
			}
		}
	}
}

func TestMirrorReadsAndRefusesWrites(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "var", "www"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "var", "www", "index.html"), []byte("hello"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("index.html", filepath.Join(root, "var", "www", "home.html")); err != nil {
		t.Fatal(err)
	}
	m := Mirror{Root: root}
	fi, err := m.Lstat("/var/www/index.html")
	if err != nil || fi.Size != 5 || fi.Mode.Perm() != 0o640 || fi.UID != os.Getuid() {
		t.Errorf("Lstat = %+v, %v", fi, err)
	}
	list, err := m.ReadDir("/var/www")
	if err != nil || len(list) != 2 {
		t.Fatalf("ReadDir = %+v, %v", list, err)
	}
	if tgt, err := m.ReadLink("/var/www/home.html"); err != nil || tgt != "index.html" {
		t.Errorf("ReadLink = %q, %v", tgt, err)
	}
	rc, err := m.Open("/var/www/index.html")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "hello" {
		t.Errorf("Open read %q", b)
	}
	if _, err := m.Lstat("/../../etc/passwd"); err == nil {
		t.Error("a path above the mirror's root was read")
	}
	if _, err := m.Lstat("/nope"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Lstat of a missing path = %v, want fs.ErrNotExist", err)
	}
	for name, err := range map[string]error{"Mkdir": m.Mkdir("/x"), "RemoveAll": m.RemoveAll("/var"), "Rename": m.Rename("/a", "/b")} {
		if !errors.Is(err, ErrReadOnly) {
			t.Errorf("%s = %v, want ErrReadOnly", name, err)
		}
	}
}
