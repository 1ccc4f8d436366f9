package standby

import (
	"cmp"
	"context"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/understudy/understudy/standby/api"
	"github.com/understudy/understudy/standby/config"
	"github.com/understudy/understudy/standby/procstat"
)

// InstanceLister is implemented by runtimes that list the daemon's running
// instances with the PID of each one's init (the lxd adapter): the load
// sampler finds their cgroups from it.
type InstanceLister interface {
	RunningInstances(ctx context.Context) (map[string]int, error)
}

// listTimeout bounds one RunningInstances call.
const listTimeout = 2 * time.Second

// loadSampler measures the VM's CPU and memory use (load-source) and each
// running instance's, every interval (Run). Safe for concurrent use.
type loadSampler struct {
	source     config.LoadSource
	cpus       int
	memory     int64 // capacity.memory: the VM's memory with load-source cgroups
	procRoot   string
	cgroupRoot string
	lister     InstanceLister // nil: no per-instance figures
	log        *slog.Logger
	now        func() time.Time

	mu       sync.Mutex
	prevAt   time.Time
	prevCPU  procstat.CPUTimes
	prevInst map[string]uint64 // instance -> CPU nanoseconds
	last     loadFigures
}

// loadFigures are one sampling interval's results.
type loadFigures struct {
	cpuPercent float64
	interval   time.Duration
	memUsed    int64
	instances  []api.InstanceLoad
}

// newLoadSampler returns the sampler cfg asks for; rt lists instances if
// it can.
func newLoadSampler(cfg config.Config, rt Runtime, log *slog.Logger) *loadSampler {
	s := &loadSampler{source: cfg.LoadSource, cpus: cfg.CPUs, memory: int64(cfg.Capacity.Memory),
		procRoot: procRoot, cgroupRoot: cfg.CgroupRoot, log: log, now: time.Now, prevInst: map[string]uint64{}}
	if s.source == "" {
		s.source = config.LoadProc
	}
	if s.cpus <= 0 {
		s.cpus = runtime.NumCPU()
	}
	s.lister, _ = rt.(InstanceLister)
	return s
}

// Run samples at once and then every interval until ctx ends.
func (s *loadSampler) Run(ctx context.Context, interval time.Duration) {
	s.Sample(ctx)
	tk := time.NewTicker(interval)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
			s.Sample(ctx)
		}
	}
}

// Sample reads the instances' cgroups and, with load-source proc,
// /proc/stat and /proc/meminfo, and computes the figures of the interval
// since the previous sample.
func (s *loadSampler) Sample(ctx context.Context) {
	usage := s.instanceUsage(ctx)
	var cpu procstat.CPUTimes
	var memUsed int64
	if s.source == config.LoadProc {
		var err error
		if cpu, err = procstat.ReadCPUTimes(s.procRoot); err != nil {
			s.log.Debug("load sample", "err", err)
			return
		}
		if total, free, err := procstat.ReadMemInfo(s.procRoot); err == nil {
			memUsed = total - free
		}
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	dt := now.Sub(s.prevAt)
	first := s.prevAt.IsZero()
	var f loadFigures
	for name, u := range usage {
		il := api.InstanceLoad{Name: name, MemoryBytes: u.MemoryBytes}
		if prev, ok := s.prevInst[name]; ok && !first {
			il.CPUPercent = procstat.CPUPercent(prev, u.CPUNanos, dt.Nanoseconds(), s.cpus)
		}
		f.instances = append(f.instances, il)
		if s.source == config.LoadCgroups {
			f.cpuPercent += il.CPUPercent
			memUsed += u.MemoryBytes
		}
	}
	slices.SortFunc(f.instances, func(a, b api.InstanceLoad) int {
		return cmp.Or(cmp.Compare(b.CPUPercent, a.CPUPercent), cmp.Compare(a.Name, b.Name))
	})
	if s.source == config.LoadProc && !first && cpu.Total > s.prevCPU.Total {
		d := cpu.Total - s.prevCPU.Total
		busy := d - min(d, (cpu.Idle-s.prevCPU.Idle)+(cpu.Steal-s.prevCPU.Steal))
		f.cpuPercent = 100 * float64(busy) / float64(d)
	}
	f.memUsed = memUsed
	if !first {
		f.interval = dt
	}
	s.prevAt, s.prevCPU = now, cpu
	s.prevInst = make(map[string]uint64, len(usage))
	for name, u := range usage {
		s.prevInst[name] = u.CPUNanos
	}
	s.last = f
}

// instanceUsage reads the cgroup of every running instance the runtime
// lists; nil without a lister. An instance whose cgroup cannot be read is
// left out.
func (s *loadSampler) instanceUsage(ctx context.Context) map[string]procstat.Usage {
	if s.lister == nil {
		return nil
	}
	lctx, cancel := context.WithTimeout(ctx, listTimeout)
	pids, err := s.lister.RunningInstances(lctx)
	cancel()
	if err != nil {
		s.log.Debug("list running instances", "err", err)
		return nil
	}
	out := make(map[string]procstat.Usage, len(pids))
	for name, pid := range pids {
		cg, err := procstat.ReadCgroup(s.procRoot, pid)
		if err == nil {
			var u procstat.Usage
			if u, err = procstat.ReadUsage(s.cgroupRoot, cg); err == nil {
				out[name] = u
				continue
			}
		}
		s.log.Debug("instance cgroup", "instance", name, "pid", pid, "err", err)
	}
	return out
}

// fill sets c's load fields from the last sample. With load-source cgroups,
// the load average is the CPUs the instances kept busy (cgroups count no
// run queue) and the memory is capacity.memory's.
func (s *loadSampler) fill(c *api.Capacity) {
	s.mu.Lock()
	f := s.last
	s.mu.Unlock()
	c.LoadSource = string(s.source)
	c.CPUs = s.cpus
	c.CPUPercent, c.CPUIntervalMS, c.MemoryUsed = f.cpuPercent, ms(f.interval), f.memUsed
	c.Instances = f.instances
	if s.source == config.LoadCgroups {
		busy := f.cpuPercent / 100 * float64(s.cpus)
		c.Load = [3]float64{busy, busy, busy}
		c.MemoryTotal = s.memory
		c.MemoryFree = max(s.memory-f.memUsed, 0)
	}
}
