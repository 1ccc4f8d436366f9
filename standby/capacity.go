package standby

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// procRoot is where /proc is read from; tests point it at testdata.
var procRoot = "/proc"

// cpuTimes are the aggregate "cpu" line of /proc/stat.
type cpuTimes struct {
	total, steal uint64
}

func readCPUTimes(root string) (cpuTimes, error) {
	f, err := os.Open(root + "/stat")
	if err != nil {
		return cpuTimes{}, fmt.Errorf("read cpu times: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 9 || fields[0] != "cpu" {
			continue
		}
		var t cpuTimes
		// user nice system idle iowait irq softirq steal [guest guest_nice]
		// guest time is already included in user and nice.
		for i, f := range fields[1:] {
			if i >= 8 {
				break
			}
			v, err := strconv.ParseUint(f, 10, 64)
			if err != nil {
				return cpuTimes{}, fmt.Errorf("parse /proc/stat: %w", err)
			}
			t.total += v
			if i == 7 {
				t.steal = v
			}
		}
		return t, nil
	}
	return cpuTimes{}, fmt.Errorf("parse /proc/stat: no aggregate cpu line")
}

func readLoadAvg(root string) ([3]float64, error) {
	var l [3]float64
	data, err := os.ReadFile(root + "/loadavg")
	if err != nil {
		return l, fmt.Errorf("read load average: %w", err)
	}
	fields := strings.Fields(string(data))
	if len(fields) < 3 {
		return l, fmt.Errorf("parse /proc/loadavg: %q", data)
	}
	for i := range 3 {
		if l[i], err = strconv.ParseFloat(fields[i], 64); err != nil {
			return l, fmt.Errorf("parse /proc/loadavg: %w", err)
		}
	}
	return l, nil
}

// readMemInfo returns MemTotal and MemAvailable (MemFree on old kernels) in bytes.
func readMemInfo(root string) (total, free int64, err error) {
	f, err := os.Open(root + "/meminfo")
	if err != nil {
		return 0, 0, fmt.Errorf("read memory info: %w", err)
	}
	defer f.Close()
	vals := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			continue
		}
		if len(fields) > 1 && fields[1] == "kB" {
			v *= 1024
		}
		vals[k] = v
	}
	total = vals["MemTotal"]
	free, ok := vals["MemAvailable"]
	if !ok {
		free = vals["MemFree"]
	}
	if total == 0 {
		return 0, 0, fmt.Errorf("parse /proc/meminfo: no MemTotal")
	}
	return total, free, nil
}

// stealSampler keeps the CPU steal percentage over the last sampling interval.
type stealSampler struct {
	mu       sync.Mutex
	prev     cpuTimes
	prevAt   time.Time
	percent  float64
	interval time.Duration
}

func newStealSampler() *stealSampler {
	s := &stealSampler{}
	if t, err := readCPUTimes(procRoot); err == nil {
		s.prev, s.prevAt = t, time.Now()
	}
	return s
}

// sample reads /proc/stat and updates the percentage from the previous sample.
func (s *stealSampler) sample() {
	t, err := readCPUTimes(procRoot)
	if err != nil {
		return
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if dt := t.total - s.prev.total; !s.prevAt.IsZero() && t.total > s.prev.total {
		s.percent = 100 * float64(t.steal-s.prev.steal) / float64(dt)
		s.interval = now.Sub(s.prevAt)
	}
	s.prev, s.prevAt = t, now
}

// run samples every interval until ctx ends.
func (s *stealSampler) run(ctx context.Context, interval time.Duration) {
	tk := time.NewTicker(interval)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
			s.sample()
		}
	}
}

func (s *stealSampler) last() (float64, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.percent, s.interval
}

// Capacity reports the VM's resources and the agent's slots.
func (a *Agent) Capacity() (Capacity, error) {
	load, err := readLoadAvg(procRoot)
	if err != nil {
		return Capacity{}, err
	}
	total, free, err := readMemInfo(procRoot)
	if err != nil {
		return Capacity{}, err
	}
	steal, iv := a.steal.last()
	c := Capacity{
		CPUs: runtime.NumCPU(), Load: load, StealPercent: steal, StealIntervalMS: ms(iv),
		MemoryTotal: total, MemoryFree: free,
		SlotsTotal: a.cfg.Capacity.Containers, MemoryLimit: int64(a.cfg.Capacity.Memory),
	}
	a.mu.Lock()
	c.ContainersRunning = len(a.running)
	for _, m := range a.running {
		c.MemoryReserved += m
	}
	a.mu.Unlock()
	c.SlotsFree = max(c.SlotsTotal-c.ContainersRunning, 0)
	c.Shares = a.containerShares()
	return c, nil
}
