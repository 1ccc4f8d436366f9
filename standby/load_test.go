package standby

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/understudy/understudy/standby/api"
	"github.com/understudy/understudy/standby/config"
)

// pidList is an InstanceLister of fixed instances.
type pidList map[string]int

func (l pidList) RunningInstances(context.Context) (map[string]int, error) { return l, nil }

// cgroupHost is a test's /proc and /sys/fs/cgroup (v2) with containers in
// lxc.payload.NAME.
type cgroupHost struct {
	t         *testing.T
	proc, sys string
	pids      pidList
}

func newCgroupHost(t *testing.T) *cgroupHost {
	return &cgroupHost{t: t, proc: t.TempDir(), sys: t.TempDir(), pids: pidList{}}
}

func (h *cgroupHost) put(name string, pid int, cpuUsec, mem int64) {
	h.t.Helper()
	h.pids[name] = pid
	dir := filepath.Join(h.sys, "lxc.payload."+name)
	for file, data := range map[string]string{
		filepath.Join(h.proc, strconv.Itoa(pid), "cgroup"): "0::/lxc.payload." + name + "\n",
		filepath.Join(dir, "cpu.stat"):                     "usage_usec " + strconv.FormatInt(cpuUsec, 10) + "\n",
		filepath.Join(dir, "memory.current"):               strconv.FormatInt(mem, 10) + "\n",
	} {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			h.t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(data), 0o600); err != nil {
			h.t.Fatal(err)
		}
	}
}

// TestLoadSamplerCgroups: with load-source cgroups the VM's CPU use is the
// sum of its instances' over the interval, as a share of its declared
// CPUs; its memory is theirs out of capacity.memory; the load is the CPUs
// they kept busy; instances come heaviest first.
func TestLoadSamplerCgroups(t *testing.T) {
	h := newCgroupHost(t)
	h.put("web", 101, 0, 100<<20)
	h.put("api", 102, 0, 50<<20)
	at := time.Unix(1000, 0)
	cfg := config.Default()
	cfg.LoadSource, cfg.CPUs, cfg.CgroupRoot = config.LoadCgroups, 2, h.sys
	cfg.Capacity.Memory = 1 << 30
	s := newLoadSampler(cfg, nil, slog.New(slog.DiscardHandler))
	s.lister, s.procRoot, s.now = h.pids, h.proc, func() time.Time { return at }
	s.Sample(t.Context())
	h.put("web", 101, 1_200_000, 100<<20) // 1.2 s of CPU in 1 s: 60 % of 2 CPUs
	h.put("api", 102, 400_000, 50<<20)    // 0.4 s: 20 %
	at = at.Add(time.Second)
	s.Sample(t.Context())
	var c api.Capacity
	s.fill(&c)
	if c.LoadSource != "cgroups" || c.CPUs != 2 || c.CPUIntervalMS != 1000 {
		t.Fatalf("capacity = %+v", c)
	}
	if c.CPUPercent < 79.99 || c.CPUPercent > 80.01 {
		t.Errorf("cpu_percent = %v, want 80", c.CPUPercent)
	}
	if len(c.Instances) != 2 || c.Instances[0].Name != "web" || c.Instances[0].CPUPercent < 59.99 || c.Instances[0].CPUPercent > 60.01 {
		t.Errorf("instances = %+v, want web (60 %%) first", c.Instances)
	}
	if c.MemoryUsed != 150<<20 || c.MemoryTotal != 1<<30 || c.MemoryFree != 1<<30-150<<20 {
		t.Errorf("memory used %d total %d free %d", c.MemoryUsed, c.MemoryTotal, c.MemoryFree)
	}
	if c.Load[0] < 1.59 || c.Load[0] > 1.61 {
		t.Errorf("load = %v, want 1.6 busy CPUs", c.Load)
	}
}

// TestLoadSamplerProc: with load-source proc the CPU use is /proc/stat's
// busy share (neither idle, iowait nor steal) and the memory MemTotal less
// MemAvailable.
func TestLoadSamplerProc(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("meminfo", "MemTotal: 1000 kB\nMemAvailable: 400 kB\n")
	write("stat", "cpu  100 0 0 900 0 0 0 0 0 0\n")
	cfg := config.Default()
	s := newLoadSampler(cfg, nil, slog.New(slog.DiscardHandler))
	s.procRoot = dir
	at := time.Unix(1000, 0)
	s.now = func() time.Time { return at }
	s.Sample(t.Context())
	write("stat", "cpu  400 0 0 1500 100 0 0 100 0 0\n") // of 1100 ticks: 300 busy, 700 idle+iowait, 100 steal
	at = at.Add(5 * time.Second)
	s.Sample(t.Context())
	var c api.Capacity
	s.fill(&c)
	if want := 100 * 300.0 / 1100; c.CPUPercent < want-0.01 || c.CPUPercent > want+0.01 {
		t.Errorf("cpu_percent = %v, want %v", c.CPUPercent, want)
	}
	if c.MemoryUsed != 600*1024 || c.LoadSource != "proc" {
		t.Errorf("memory_used = %d (want 614400), source %q", c.MemoryUsed, c.LoadSource)
	}
}
