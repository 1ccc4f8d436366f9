package packaging

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/labtest"
	agentconfig "github.com/understudy/understudy/standby/config"
)

// The versions of the packages this test installs (first, then the
// upgrade); their prefix marks them, so that a run that died half-way is
// cleaned up by the next one, and a real installation is never touched.
const (
	testVersion    = "0.0~itest1"
	upgradeVersion = "0.0~itest2"
	testPrefix     = "0.0~itest"
)

// The files the package installs besides the man pages.
var packageFiles = map[string]os.FileMode{
	"/usr/bin/understudy":                                  0o755,
	"/lib/systemd/system/understudy-monitor.service":       0o644,
	"/lib/systemd/system/understudy-agent.service":         0o644,
	"/lib/systemd/system/understudy-proxy.service":         0o644,
	"/usr/lib/sysctl.d/60-understudy.conf":                 0o644,
	"/usr/share/bash-completion/completions/understudy":    0o644,
	"/usr/share/zsh/vendor-completions/_understudy":        0o644,
	"/usr/share/fish/vendor_completions.d/understudy.fish": 0o644,
	"/usr/share/doc/understudy/operations.md":              0o644,
}

var conffiles = []string{"/etc/understudy/monitor.yaml", "/etc/understudy/agent.yaml", "/etc/understudy/proxy.yaml"}

var units = []string{"understudy-monitor.service", "understudy-agent.service", "understudy-proxy.service"}

// manPages are the pages of every command the binary has.
var manPages = []string{"understudy", "understudy-agent", "understudy-certs", "understudy-completion",
	"understudy-dns", "understudy-drill", "understudy-failback", "understudy-man", "understudy-migrate",
	"understudy-monitor", "understudy-playbook", "understudy-proxy", "understudy-status",
	"understudy-validate", "understudy-version"}

// TestIntegrationDebPackage builds the .deb with build-deb.sh (`make deb`),
// installs it with dpkg -i on this machine, checks its files, its units
// (systemd-analyze verify and security, offline: no systemd runs here), its
// default configuration, upgrades it (state, edited conffile and key kept),
// then removes it (data kept) and purges it (nothing left). It starts no
// daemon and touches nothing of the lab.
func TestIntegrationDebPackage(t *testing.T) {
	requireTools(t)
	requireClean(t)
	deb := buildDeb(t, testVersion)
	t.Cleanup(func() {
		if st, _ := packageStatus(); st != "" {
			_, _ = dpkg("--purge", "understudy")
		}
	})

	if out, err := dpkg("--install", deb); err != nil {
		t.Fatalf("dpkg -i %s: %v\n%s", deb, err, out)
	}
	checkInstalled(t, testVersion)
	checkUnits(t)
	checkConfig(t)
	checkShellsAndPages(t)

	// The state the daemons would have written (the monitor's etcd, the
	// agent's epoch) and an edited conffile: an upgrade and dpkg -r keep
	// them, dpkg -P removes them.
	state := map[string]string{
		"/var/lib/understudy/etcd/member/snap/db": "incidents",
		"/var/lib/understudy/agent/epoch":         "7\n",
	}
	for path, content := range state {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	edited := appendLine(t, "/etc/understudy/monitor.yaml", "# edited by the operator")
	key := readFile(t, "/etc/understudy/tsig.key")

	if out, err := dpkg("--install", buildDeb(t, upgradeVersion)); err != nil {
		t.Fatalf("dpkg -i the upgrade: %v\n%s", err, out)
	}
	checkInstalled(t, upgradeVersion)
	for path, content := range state {
		if got := readFile(t, path); got != content {
			t.Errorf("after the upgrade %s holds %q, want %q", path, got, content)
		}
	}
	if readFile(t, "/etc/understudy/monitor.yaml") != edited {
		t.Errorf("the upgrade replaced the edited monitor.yaml")
	}
	if readFile(t, "/etc/understudy/tsig.key") != key {
		t.Errorf("the upgrade replaced the TSIG key")
	}

	if out, err := dpkg("--remove", "understudy"); err != nil {
		t.Fatalf("dpkg -r: %v\n%s", err, out)
	}
	checkRemoved(t)
	if out, err := dpkg("--purge", "understudy"); err != nil {
		t.Fatalf("dpkg -P: %v\n%s", err, out)
	}
	checkPurged(t)
}

func requireTools(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		labtest.Skip(t, "dpkg -i needs root")
	}
	for _, tool := range []string{"dpkg", "dpkg-deb", "dpkg-query", "systemd-analyze", "adduser", "go", "bash", "zsh", "fish", "man"} {
		if _, err := exec.LookPath(tool); err != nil {
			labtest.Skip(t, "%s is not installed (bash examples/packaging/deps.sh)", tool)
		}
	}
}

// requireClean purges the package a killed run left behind, and refuses to
// run where understudy is installed for real or its user or directories
// exist without the package.
func requireClean(t *testing.T) {
	t.Helper()
	st, version := packageStatus()
	switch {
	case st != "" && strings.HasPrefix(version, testPrefix):
		t.Logf("purging the package a previous run left (%s)", st)
		if out, err := dpkg("--purge", "understudy"); err != nil {
			t.Fatalf("dpkg -P the left-over package: %v\n%s", err, out)
		}
	case st != "":
		labtest.Skip(t, "understudy %s is installed on this machine (%s); this test would replace it", version, st)
	}
	if _, err := user.Lookup("understudy"); err == nil {
		labtest.Skip(t, "a user understudy exists without the package; the purge would delete it")
	}
	for _, dir := range []string{"/etc/understudy", "/var/lib/understudy"} {
		if _, err := os.Stat(dir); err == nil {
			labtest.Skip(t, "%s exists without the package; the purge would delete it", dir)
		}
	}
}

// packageStatus returns dpkg's status of understudy ("" when dpkg knows no
// such package or it is not installed at all) and its version.
func packageStatus() (status, version string) {
	out, err := exec.Command("dpkg-query", "-W", "-f=${db:Status-Abbrev}|${Version}", "understudy").Output()
	if err != nil {
		return "", ""
	}
	st, v, _ := strings.Cut(string(out), "|")
	if st = strings.TrimSpace(st); st == "un" || st == "" {
		return "", ""
	}
	return st, v
}

var lockRE = regexp.MustCompile(`dpkg (frontend )?lock`)

// dpkg runs dpkg, waiting while another dpkg or apt holds its lock (exit 2
// with a lock message) until the lock is released, at most 5 minutes.
func dpkg(args ...string) (string, error) {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		cmd := exec.Command("dpkg", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !lockRE.Match(out) || time.Now().After(deadline) {
			return string(out), err
		}
		time.Sleep(time.Second) // another package manager holds the lock: ask again
	}
}

// buildDeb runs build-deb.sh for version into a temporary directory.
func buildDeb(t *testing.T, version string) string {
	t.Helper()
	cmd := exec.Command("bash", "examples/packaging/build-deb.sh")
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "UNDERSTUDY_VERSION="+version, "UNDERSTUDY_DEB_DIR="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("build-deb.sh: %v\n%s", err, stderr.String())
	}
	deb := strings.TrimSpace(string(out))
	if filepath.Base(deb) != "understudy_"+version+"_"+runtime.GOARCH+".deb" {
		t.Fatalf("build-deb.sh printed %q", deb)
	}
	return deb
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// appendLine appends line to the file at path and returns its new content.
func appendLine(t *testing.T, path, line string) string {
	t.Helper()
	content := readFile(t, path) + line + "\n"
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return content
}

func checkInstalled(t *testing.T, version string) {
	t.Helper()
	if st, v := packageStatus(); st != "ii" || v != version {
		t.Fatalf("after dpkg -i: status %q version %q, want ii %s", st, v, version)
	}
	for path, mode := range packageFiles {
		fi, err := os.Stat(path)
		if err != nil {
			t.Errorf("installed file: %v", err)
			continue
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), mode)
		}
	}
	out, err := exec.Command("/usr/bin/understudy", "version").Output()
	if err != nil || strings.TrimSpace(string(out)) != "understudy "+version {
		t.Errorf("understudy version = %q (%v), want the package's version", out, err)
	}
	q, err := exec.Command("dpkg-query", "-W", "-f=${Conffiles}", "understudy").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range conffiles {
		if !strings.Contains(string(q), " "+c+" ") {
			t.Errorf("%s is not a conffile: %q", c, q)
		}
	}
	u, err := user.Lookup("understudy")
	if err != nil {
		t.Fatalf("the postinst made no user: %v", err)
	}
	if uid, _ := strconv.Atoi(u.Uid); uid >= 1000 || u.HomeDir != "/var/lib/understudy" {
		t.Errorf("user understudy: uid %s home %s, want a system user at /var/lib/understudy", u.Uid, u.HomeDir)
	}
	if _, err := user.LookupGroup("understudy"); err != nil {
		t.Errorf("the postinst made no group: %v", err)
	}
	fi, err := os.Stat("/etc/understudy/tsig.key")
	if err != nil {
		t.Fatalf("the postinst wrote no TSIG key: %v", err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != 0o600 || strconv.Itoa(int(st.Uid)) != u.Uid {
		t.Errorf("tsig.key: mode %v uid %d, want 0600 owned by understudy (%s)", fi.Mode().Perm(), st.Uid, u.Uid)
	}
}

var exposureRE = regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`)

// checkUnits runs systemd-analyze verify (syntax, every directive known,
// ExecStart's binary and the Documentation= man pages found) and security
// (offline), and checks that each ExecStart parses: the command with -h.
func checkUnits(t *testing.T) {
	t.Helper()
	for _, u := range units {
		path := "/lib/systemd/system/" + u
		out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", u, err, out)
		}
		out, err = exec.Command("systemd-analyze", "security", "--offline=yes", "--no-pager", path).CombinedOutput()
		m := exposureRE.FindSubmatch(out)
		if err != nil || m == nil {
			t.Errorf("systemd-analyze security %s: %v\n%s", u, err, out)
			continue
		}
		score, _ := strconv.ParseFloat(string(m[1]), 64)
		t.Logf("%s: systemd-analyze security exposure %.1f", u, score)
		if score > 2.0 {
			t.Errorf("%s: exposure %.1f, want at most 2.0 (README.md's table)", u, score)
		}
		d := unitDirectives(t, path)
		argv := strings.Fields(d["ExecStart"][0])
		help := exec.Command(argv[0], append(argv[1:], "-h")...)
		if out, err := help.CombinedOutput(); err != nil {
			t.Errorf("%s: ExecStart's flags do not parse: %v\n%s", u, err, out)
		}
	}
}

// checkConfig validates the installed defaults with the installed binary
// (monitor and proxy inventories) and the agent's loader.
func checkConfig(t *testing.T) {
	t.Helper()
	for _, f := range []string{"/etc/understudy/monitor.yaml", "/etc/understudy/proxy.yaml"} {
		var stderr bytes.Buffer
		cmd := exec.Command("/usr/bin/understudy", "validate", "-f", f)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || stderr.Len() > 0 || !strings.Contains(string(out), ": ok: ") {
			t.Errorf("understudy validate -f %s: %v\n%s%s", f, err, out, stderr.String())
		}
	}
	if _, err := agentconfig.Load("/etc/understudy/agent.yaml"); err != nil {
		t.Errorf("agent.yaml: %v", err)
	}
}

// checkShellsAndPages checks the installed completion scripts with their
// shells and the man pages with man's warnings.
func checkShellsAndPages(t *testing.T) {
	t.Helper()
	for shell, path := range map[string]string{
		"bash": "/usr/share/bash-completion/completions/understudy",
		"zsh":  "/usr/share/zsh/vendor-completions/_understudy",
		"fish": "/usr/share/fish/vendor_completions.d/understudy.fish",
	} {
		if out, err := exec.Command(shell, "-n", path).CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("%s -n %s: %v\n%s", shell, path, err, out)
		}
	}
	out, err := exec.Command("bash", "--norc", "-c", "source /usr/share/bash-completion/completions/understudy && complete -p understudy").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "-F _understudy understudy") {
		t.Errorf("bash completion not registered: %v\n%s", err, out)
	}
	for _, p := range manPages {
		path := "/usr/share/man/man1/" + p + ".1.gz"
		if _, err := os.Stat(path); err != nil {
			t.Errorf("man page: %v", err)
			continue
		}
		cmd := exec.Command("man", "--warnings", "-E", "UTF-8", "-l", path)
		cmd.Env = append(os.Environ(), "MANWIDTH=80", "MANPAGER=cat", "PAGER=cat")
		var warn bytes.Buffer
		cmd.Stderr = &warn
		if err := cmd.Run(); err != nil || warn.Len() > 0 {
			t.Errorf("man --warnings -l %s: %v\n%s", path, err, warn.String())
		}
	}
	if out, err := exec.Command("man", "-w", "understudy-monitor").Output(); err != nil || !strings.Contains(string(out), "/usr/share/man/man1/understudy-monitor.1.gz") {
		t.Errorf("man -w understudy-monitor = %q (%v)", out, err)
	}
}

// checkRemoved: dpkg -r took the files and kept the conffiles, the key,
// the state and the user.
func checkRemoved(t *testing.T) {
	t.Helper()
	if st, _ := packageStatus(); st != "rc" {
		t.Errorf("after dpkg -r: status %q, want rc (config files kept)", st)
	}
	for path := range packageFiles {
		if _, err := os.Stat(path); err == nil {
			t.Errorf("%s is left after dpkg -r", path)
		}
	}
	for _, p := range manPages {
		if _, err := os.Stat("/usr/share/man/man1/" + p + ".1.gz"); err == nil {
			t.Errorf("man page %s is left after dpkg -r", p)
		}
	}
	for _, keep := range append([]string{"/etc/understudy/tsig.key", "/var/lib/understudy/agent/epoch", "/var/lib/understudy/etcd/member/snap/db"}, conffiles...) {
		if _, err := os.Stat(keep); err != nil {
			t.Errorf("dpkg -r removed data it must keep: %v", err)
		}
	}
	if _, err := user.Lookup("understudy"); err != nil {
		t.Errorf("dpkg -r removed the user: %v", err)
	}
}

// checkPurged: nothing of the package is left.
func checkPurged(t *testing.T) {
	t.Helper()
	if st, _ := packageStatus(); st != "" {
		t.Errorf("after dpkg -P: status %q, want not installed", st)
	}
	var left []string
	for _, p := range []string{"/etc/understudy", "/var/lib/understudy", "/usr/share/doc/understudy", "/usr/bin/understudy"} {
		if _, err := os.Stat(p); err == nil {
			left = append(left, p)
		}
	}
	if _, err := user.Lookup("understudy"); err == nil {
		left = append(left, "user understudy")
	}
	if _, err := user.LookupGroup("understudy"); err == nil {
		left = append(left, "group understudy")
	}
	if len(left) > 0 {
		t.Errorf("left after dpkg -P: %s", fmt.Sprint(left))
	}
}
