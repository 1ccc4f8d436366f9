package contentsync

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/internal/labtest/labconn"
)

// rsyncOpener makes the benchmark's primary an ssh server (labconn.SSHD)
// and returns the opener of method rsync: pulled into a mirror under a
// temporary directory, then copied into the standby container.
func (w *benchWorld) rsyncOpener(ctx context.Context, b *testing.B, dir string) Opener {
	b.Helper()
	// Not b.TempDir: the benchmark's name has a "%", which ssh would read
	// as a token in the key's and the known hosts' paths.
	tmp, err := os.MkdirTemp("", "understudy-syncbench-rsync-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = os.RemoveAll(tmp) })
	key, pub := labconn.SSHKey(b, tmp)
	labconn.SSHD(ctx, b, w.hostA, labPrimary, pub)
	rs := Rsync{User: "root", Host: labPrimaryAddr, Port: 22, Key: key,
		KnownHosts: filepath.Join(tmp, "known_hosts"), Mirror: filepath.Join(tmp, "mirror")}
	return benchRsyncOpener{w: w, rsync: rs, paths: []string{dir}}
}

// benchRsyncOpener pulls the paths with rsync and opens the standby
// container named after the service.
type benchRsyncOpener struct {
	w     *benchWorld
	rsync Rsync
	paths []string
}

func (o benchRsyncOpener) Primary(ctx context.Context, _ string) (Session, error) {
	return o.rsync.Pull(ctx, o.paths)
}

func (o benchRsyncOpener) Standby(ctx context.Context, service string) (Session, error) {
	return o.w.stdby.Files(ctx, service)
}

// guest reads what a running lab container spends, from this machine: its
// cgroup's CPU time and the bytes its eth0 sent (the lab's daemons share
// this machine's kernel).
type guest struct {
	cgroup string // cgroup directory holding the container's cpu accounting
	v2     bool
}

// guestOf finds the cgroup of running container name (cgroup v1's
// cpuacct hierarchy, or v2); it skips when there is none.
func guestOf(b *testing.B, name string) guest {
	b.Helper()
	v1 := filepath.Join("/sys/fs/cgroup/cpuacct", "lxc.payload."+name)
	if _, err := os.Stat(filepath.Join(v1, "cpuacct.usage")); err == nil {
		return guest{cgroup: v1}
	}
	v2 := filepath.Join("/sys/fs/cgroup", "lxc.payload."+name)
	if _, err := os.Stat(filepath.Join(v2, "cpu.stat")); err == nil {
		return guest{cgroup: v2, v2: true}
	}
	b.Skipf("no cgroup of container %s under /sys/fs/cgroup (its CPU is not measured)", name)
	return guest{}
}

// cpu is the container's CPU time so far.
func (g guest) cpu(b *testing.B) time.Duration {
	b.Helper()
	if g.v2 {
		data, err := os.ReadFile(filepath.Join(g.cgroup, "cpu.stat"))
		if err != nil {
			b.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[0] == "usage_usec" {
				us, err := strconv.ParseInt(f[1], 10, 64)
				if err != nil {
					b.Fatal(err)
				}
				return time.Duration(us) * time.Microsecond
			}
		}
		b.Fatalf("no usage_usec in %s/cpu.stat", g.cgroup)
	}
	data, err := os.ReadFile(filepath.Join(g.cgroup, "cpuacct.usage"))
	if err != nil {
		b.Fatal(err)
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		b.Fatal(err)
	}
	return time.Duration(ns)
}

// txBytes is what the container's eth0 has sent so far, read from the
// network namespace of one of its processes.
func (g guest) txBytes(b *testing.B) int64 {
	b.Helper()
	pid := g.pid(b)
	data, err := os.ReadFile(filepath.Join("/proc", pid, "net", "dev"))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		name, counters, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) != "eth0" {
			continue
		}
		f := strings.Fields(counters)
		if len(f) < 9 {
			break
		}
		n, err := strconv.ParseInt(f[8], 10, 64) // receive: 8 fields, then transmit bytes
		if err != nil {
			b.Fatal(err)
		}
		return n
	}
	b.Fatalf("no eth0 in /proc/%s/net/dev", pid)
	return 0
}

// pid is one process of the container: the first in its cgroup or below.
func (g guest) pid(b *testing.B) string {
	b.Helper()
	var pid string
	_ = filepath.WalkDir(g.cgroup, func(p string, d fs.DirEntry, err error) error {
		if err != nil || pid != "" || d.IsDir() || d.Name() != "cgroup.procs" {
			return nil
		}
		if data, err := os.ReadFile(p); err == nil {
			if f := strings.Fields(string(data)); len(f) > 0 {
				pid = f[0]
				return fs.SkipAll
			}
		}
		return nil
	})
	if pid == "" {
		b.Fatalf("no process in the cgroup %s", g.cgroup)
	}
	return pid
}
