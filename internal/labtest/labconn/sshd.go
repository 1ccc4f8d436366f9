package labconn

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/understudy/understudy/internal/labtest"
	"github.com/understudy/understudy/lxd"
)

// The programs SSHD copies into a lab container, from this machine
// (lab.sh installs them: dropbear-bin, rsync).
const (
	dropbearBin = "/usr/sbin/dropbear"
	rsyncBin    = "/usr/bin/rsync"
)

// SSHKey makes an ed25519 key pair without a passphrase under dir and
// returns the private key's file and the public key's line.
func SSHKey(t testing.TB, dir string) (keyFile, pub string) {
	t.Helper()
	keyFile = filepath.Join(dir, "sync.key")
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "understudy-lab", "-f", keyFile).CombinedOutput()
	if err != nil {
		labtest.Skip(t, "ssh-keygen (openssh-client, which lab.sh installs): %v: %s", err, out)
	}
	b, err := os.ReadFile(keyFile + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return keyFile, strings.TrimSpace(string(b))
}

// SSHD makes the running busybox lab container name on c an ssh server
// rsync can pull from: it copies this machine's dropbear and rsync, with
// the shared libraries they load, into the container, authorizes pub for
// root and starts dropbear on port 22. The lab image has neither (it is
// busybox); a real primary VM has its own sshd and rsync.
func SSHD(ctx context.Context, t testing.TB, c *lxd.Client, name, pub string) {
	t.Helper()
	files := []string{dropbearBin, rsyncBin}
	for _, bin := range []string{dropbearBin, rsyncBin} {
		libs, err := sharedLibs(bin)
		if err != nil {
			labtest.Skip(t, "the ssh server for rsync (dropbear-bin and rsync, which lab.sh installs): %v", err)
		}
		files = append(files, libs...)
	}
	f, err := c.Files(ctx, name)
	if err != nil {
		t.Fatalf("open the files of %s: %v", name, err)
	}
	defer f.Close()
	for _, p := range files {
		if err := pushFile(f, p, p, 0o755); err != nil {
			t.Fatalf("copy %s into %s: %v", p, name, err)
		}
	}
	for _, d := range []string{"/root", "/root/.ssh", "/etc/dropbear"} {
		if err := mkdirAll(f, d, 0o700); err != nil {
			t.Fatalf("create %s in %s: %v", d, name, err)
		}
	}
	if err := writeFile(f, "/root/.ssh/authorized_keys", []byte(pub+"\n"), 0o600); err != nil {
		t.Fatalf("authorize the key in %s: %v", name, err)
	}
	// -R: host keys made at the first login; -s: no passwords; it daemonizes.
	res, err := c.Exec(ctx, name, []string{dropbearBin, "-R", "-s", "-p", "22"}, nil)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("start dropbear in %s: %v (exit %d): %s", name, err, res.ExitCode, res.Stderr)
	}
}

// lddRE finds the libraries in ldd's output: "libz.so.1 => /lib/…/libz.so.1
// (0x…)" and the loader "/lib64/ld-linux-x86-64.so.2 (0x…)".
var lddRE = regexp.MustCompile(`(?m)(?:=> )?(/\S+) \(0x`)

// sharedLibs lists the shared libraries bin loads, by the paths the
// loader finds them at.
func sharedLibs(bin string) ([]string, error) {
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", bin, err)
	}
	var libs []string
	for _, m := range lddRE.FindAllStringSubmatch(string(out), -1) {
		libs = append(libs, m[1])
	}
	return libs, nil
}

// pushFile copies local file src (its target, when a link) to dst in the
// container.
func pushFile(f *lxd.Files, src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := mkdirAll(f, path.Dir(dst), 0o755); err != nil {
		return err
	}
	return writeFile(f, dst, b, mode)
}

func writeFile(f *lxd.Files, p string, b []byte, mode os.FileMode) error {
	w, err := f.Create(p)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, bytes.NewReader(b)); err != nil {
		w.Close()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return f.Chmod(p, mode)
}

// mkdirAll creates directory p and its parents in the container.
func mkdirAll(f *lxd.Files, p string, mode os.FileMode) error {
	if p == "/" || p == "." {
		return nil
	}
	if fi, err := f.Lstat(p); err == nil {
		if !fi.Mode.IsDir() {
			return fmt.Errorf("%s exists and is not a directory", p)
		}
		return nil
	}
	if err := mkdirAll(f, path.Dir(p), 0o755); err != nil {
		return err
	}
	if err := f.Mkdir(p); err != nil {
		return err
	}
	return f.Chmod(p, mode)
}
