// Package criuprobe finds out, once at the standby agent's start, whether
// CRIU can checkpoint and restore on this machine: go-criu's version RPC, a
// feature check and a trial dump of a throwaway child, each under a
// watchdog that kills a hung criu (Probe); and what a restore-mode
// container needs for liblxc to checkpoint it here (RestoreRawLXC). It does
// not checkpoint containers (the lxd package does, when the agent was told
// CRIU works).
package criuprobe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	criu "github.com/checkpoint-restore/go-criu/v7"
	"github.com/checkpoint-restore/go-criu/v7/rpc"
	"google.golang.org/protobuf/proto"
)

// Status is the outcome of the start-up CRIU probe.
type Status struct {
	Available bool
	Version   int    // e.g. 31701 for 3.17.1; 0 when unknown
	Reason    string // why CRIU is unavailable
}

// String is "available" or "unavailable: <reason>", as /v1/health reports it.
func (s Status) String() string {
	if s.Available {
		return "available"
	}
	return "unavailable: " + s.Reason
}

// Probe checks CRIU through go-criu: the version RPC, a feature check,
// and a trial dump of a throwaway child process. Each step runs under a
// watchdog: go-criu has no timeout, so when a step exceeds timeout the criu
// child is killed and the probe reports it. Any failure makes CRIU
// unavailable with the reason; the probe never returns an error.
func Probe(ctx context.Context, path string, timeout time.Duration) Status {
	bin, err := exec.LookPath(path)
	if err != nil {
		return Status{Reason: fmt.Sprintf("criu binary %q not found", path)}
	}
	c := criu.MakeCriu()
	c.SetCriuPath(bin)
	var version int
	if err := watchdog(ctx, bin, timeout, func() (err error) { version, err = c.GetCriuVersion(); return err }); err != nil {
		return Status{Reason: "version check: " + flat(err)}
	}
	featErr := watchdog(ctx, bin, timeout, func() error {
		_, err := c.FeatureCheck(&rpc.CriuFeatures{MemTrack: proto.Bool(true)})
		return err
	})
	if errors.Is(featErr, errWatchdog) {
		return Status{Version: version, Reason: "feature check: " + flat(featErr)}
	}
	// The trial dump runs even after a failed feature check: the feature
	// check reports no message, the dump's log says why (e.g. the vdso error).
	logLine, dumpErr := trialDump(ctx, c, bin, timeout)
	switch {
	case dumpErr != nil && logLine != "":
		reason := fmt.Sprintf("criu %s: trial dump failed: %s", versionString(version), logLine)
		if featErr != nil {
			reason += " (the feature check failed too)"
		}
		return Status{Version: version, Reason: reason}
	case featErr != nil && dumpErr != nil:
		return Status{Version: version, Reason: "feature check: " + flat(featErr) + "; trial dump: " + flat(dumpErr)}
	case featErr != nil:
		return Status{Version: version, Reason: "feature check: " + flat(featErr)}
	case dumpErr != nil:
		return Status{Version: version, Reason: "trial dump: " + flat(dumpErr)}
	}
	return Status{Available: true, Version: version}
}

// flat joins the lines of a (joined) error into one line.
func flat(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

// trialDump checkpoints a throwaway `sleep` child into a temporary
// directory. On failure it also returns the first error line of criu's log.
func trialDump(ctx context.Context, c *criu.Criu, bin string, timeout time.Duration) (string, error) {
	dir, err := os.MkdirTemp("", "understudy-criu-probe-")
	if err != nil {
		return "", fmt.Errorf("create image directory: %w", err)
	}
	defer os.RemoveAll(dir)
	img, err := os.Open(dir)
	if err != nil {
		return "", fmt.Errorf("open image directory: %w", err)
	}
	defer img.Close()

	child := exec.Command("sleep", "60")
	child.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := child.Start(); err != nil {
		return "", fmt.Errorf("start throwaway process: %w", err)
	}
	defer func() {
		_ = child.Process.Kill()
		_ = child.Wait()
	}()
	opts := &rpc.CriuOpts{
		Pid:          proto.Int32(int32(child.Process.Pid)),
		ImagesDirFd:  proto.Int32(int32(img.Fd())),
		LogLevel:     proto.Int32(4),
		LogFile:      proto.String("dump.log"),
		ShellJob:     proto.Bool(true),
		LeaveRunning: proto.Bool(true),
		// The child inherits every descriptor its parent got without
		// close-on-exec, such as the lab lock of `flock LOCK go test`;
		// a dump without file_locks refuses a task holding a lock ("Some
		// file locks are hold by dumping tasks"), which says nothing
		// about whether criu works here.
		FileLocks: proto.Bool(true),
	}
	if err := watchdog(ctx, bin, timeout, func() error { return c.Dump(opts, criu.NoNotify{}) }); err != nil {
		return firstErrorLine(filepath.Join(dir, "dump.log")), err
	}
	return "", nil
}

// versionString formats go-criu's version number (31701) as 3.17.1.
func versionString(v int) string {
	return fmt.Sprintf("%d.%d.%d", v/10000, v/100%100, v%100)
}

// errWatchdog says the watchdog killed a hung criu.
var errWatchdog = errors.New("criu did not answer in time and was killed")

// watchdog runs fn; if it does not return within timeout (or ctx ends), it
// kills the criu children of this process so fn's RPC read fails, and waits
// for fn to return.
func watchdog(ctx context.Context, bin string, timeout time.Duration, fn func() error) error {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
	case <-ctx.Done():
	}
	killChildren(filepath.Base(bin))
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		killChildren(filepath.Base(bin)) // a child started in between
		<-done
	}
	return fmt.Errorf("%w after %v", errWatchdog, timeout)
}

// killChildren sends SIGKILL to this process's children whose command name is comm.
func killChildren(comm string) {
	if len(comm) > 15 {
		comm = comm[:15] // the kernel truncates comm to 15 bytes
	}
	self := os.Getpid()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(data)
		open, closeIdx := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closeIdx < open {
			continue
		}
		fields := strings.Fields(s[closeIdx+1:])
		if len(fields) < 2 || s[open+1:closeIdx] != comm {
			continue
		}
		if ppid, _ := strconv.Atoi(fields[1]); ppid == self {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// criuLogPrefix is the "(00.013280) Error (criu/vdso.c:381): " of a criu log line.
var criuLogPrefix = regexp.MustCompile(`^\(\s*[\d.]+\)\s*Error \([^)]*\):\s*`)

// nonFatal are criu log errors after which criu carries on: criu logs
// them as errors, but they are not why a dump failed (RLIMIT_NOFILE: a
// caller without CAP_SYS_RESOURCE keeps its own limit).
var nonFatal = []string{"rlimit: Can't setup RLIMIT_NOFILE"}

// firstErrorLine returns the message of the first error line of a criu log
// that is not one of nonFatal.
func firstErrorLine(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if strings.Contains(line, "Error") {
			msg := criuLogPrefix.ReplaceAllString(strings.TrimSpace(line), "")
			if slices.ContainsFunc(nonFatal, func(p string) bool { return strings.HasPrefix(msg, p) }) {
				continue
			}
			if len(msg) > 300 {
				msg = msg[:300]
			}
			return msg
		}
	}
	return ""
}
