package standby

import (
	"runtime"

	"github.com/understudy/understudy/standby/procstat"
)

// procRoot is where /proc is read from.
const procRoot = "/proc"

// Capacity reports the VM's resources and the agent's slots.
func (a *Agent) Capacity() (Capacity, error) {
	load, err := procstat.ReadLoadAvg(procRoot)
	if err != nil {
		return Capacity{}, err
	}
	total, free, err := procstat.ReadMemInfo(procRoot)
	if err != nil {
		return Capacity{}, err
	}
	steal, iv := a.steal.Last()
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
	a.load.fill(&c)
	return c, nil
}
