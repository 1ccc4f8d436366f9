// Package procstat reads what the standby agent reports of its VM from
// /proc: the load average, the memory, and the CPU steal percentage over a
// sampling interval (StealSampler). It only reads; the agent decides what
// the numbers mean for its capacity.
package procstat

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// CPUTimes are the aggregate "cpu" line of /proc/stat, in ticks: Idle
// counts idle and iowait.
type CPUTimes struct {
	Total, Steal, Idle uint64
}

// ReadCPUTimes reads ROOT/stat (root is /proc, or a test's copy of it).
func ReadCPUTimes(root string) (CPUTimes, error) {
	f, err := os.Open(root + "/stat")
	if err != nil {
		return CPUTimes{}, fmt.Errorf("read cpu times: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 9 || fields[0] != "cpu" {
			continue
		}
		var t CPUTimes
		// user nice system idle iowait irq softirq steal [guest guest_nice]
		// guest time is already included in user and nice.
		for i, f := range fields[1:] {
			if i >= 8 {
				break
			}
			v, err := strconv.ParseUint(f, 10, 64)
			if err != nil {
				return CPUTimes{}, fmt.Errorf("parse /proc/stat: %w", err)
			}
			t.Total += v
			switch i {
			case 3, 4:
				t.Idle += v
			case 7:
				t.Steal = v
			}
		}
		return t, nil
	}
	return CPUTimes{}, fmt.Errorf("parse /proc/stat: no aggregate cpu line")
}

// ReadLoadAvg reads the 1, 5 and 15 minute load averages from ROOT/loadavg.
func ReadLoadAvg(root string) ([3]float64, error) {
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
// ReadMemInfo reads the total and the available memory, in bytes, from
// ROOT/meminfo (MemFree where there is no MemAvailable).
func ReadMemInfo(root string) (total, free int64, err error) {
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

// StealSampler keeps the CPU steal percentage over the last sampling
// interval. It is safe for concurrent use.
type StealSampler struct {
	root     string
	mu       sync.Mutex
	prev     CPUTimes
	prevAt   time.Time
	percent  float64
	interval time.Duration
}

// NewStealSampler takes a first sample of ROOT/stat.
func NewStealSampler(root string) *StealSampler {
	s := &StealSampler{root: root}
	if t, err := ReadCPUTimes(root); err == nil {
		s.prev, s.prevAt = t, time.Now()
	}
	return s
}

// Sample reads ROOT/stat and updates the percentage from the previous sample.
func (s *StealSampler) Sample() {
	t, err := ReadCPUTimes(s.root)
	if err != nil {
		return
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if dt := t.Total - s.prev.Total; !s.prevAt.IsZero() && t.Total > s.prev.Total {
		s.percent = 100 * float64(t.Steal-s.prev.Steal) / float64(dt)
		s.interval = now.Sub(s.prevAt)
	}
	s.prev, s.prevAt = t, now
}

// Run samples every interval until ctx ends.
func (s *StealSampler) Run(ctx context.Context, interval time.Duration) {
	tk := time.NewTicker(interval)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
			s.Sample()
		}
	}
}

// Last returns the steal percentage and the interval it was measured over
// (0 before two samples).
func (s *StealSampler) Last() (float64, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.percent, s.interval
}
