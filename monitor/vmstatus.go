package monitor

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// VMStatus is a standby or spare VM in GET /v1/status: its last capacity
// sample (from the agent on it) and, for a standby, whether it is
// overloaded.
type VMStatus struct {
	Name      string    `json:"name"`
	Kind      string    `json:"kind"` // standby or spare
	SampledAt time.Time `json:"sampled_at,omitzero"`
	// Steal is the CPU steal in percent, LoadPerCPU the 1-minute load
	// average per CPU; both are 0 and Unknown says why when there is no
	// usable sample.
	Steal      float64 `json:"steal_percent"`
	LoadPerCPU float64 `json:"load_per_cpu"`
	Unknown    string  `json:"unknown,omitempty"`
	// Overloaded (standbys): steal and load have both stayed above
	// migration.overload's thresholds for its window; Why says how far.
	Overloaded bool   `json:"overloaded,omitempty"`
	Why        string `json:"why,omitempty"`
	// Capacity is what the inventory says the VM holds (capacity:
	// containers and memory in bytes; 0 unknown).
	Capacity VMCapacity `json:"capacity"`
}

// VMCapacity is a VM's capacity in GET /v1/status.
type VMCapacity struct {
	Containers  int   `json:"containers,omitempty"`
	MemoryBytes int64 `json:"memory_bytes,omitempty"`
}

// vmViews keeps the last capacity sample of each standby VM, written by
// the move loop's overload watch and read by the status and /metrics.
// Spares' samples live in spareCapacity. Safe for concurrent use.
type vmViews struct {
	mu       sync.Mutex
	standbys map[string]standbyView
}

type standbyView struct {
	sample     capSample
	overloaded bool
	why        string
}

// setStandby records a standby's sample and overload state, and returns
// whether it was overloaded before.
func (v *vmViews) setStandby(name string, s capSample, overloaded bool, why string) (was bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	was = v.standbys[name].overloaded
	v.standbys[name] = standbyView{sample: s, overloaded: overloaded, why: why}
	return was
}

// overloaded returns the overloaded standbys, with why.
func (v *vmViews) overloaded() map[string]string {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := map[string]string{}
	for name, sv := range v.standbys {
		if sv.overloaded {
			out[name] = sv.why
		}
	}
	return out
}

// keep forgets the standbys not in names (they left the inventory).
func (v *vmViews) keep(names map[string]bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for name := range v.standbys {
		if !names[name] {
			delete(v.standbys, name)
		}
	}
}

// vmCollector exports the VMs' last samples, and whether each sampled
// standby is overloaded, at each scrape: a VM that left the inventory or
// has no usable sample simply has no series.
type vmCollector struct {
	c                       *Controller
	steal, load, overloaded *prometheus.Desc
}

func newVMCollector(c *Controller) vmCollector {
	return vmCollector{c: c,
		steal: prometheus.NewDesc("understudy_monitor_vm_steal_ratio",
			"CPU steal of a standby or spare VM, as its agent last reported it (a ratio: 0.3 is 30 % of the CPU time stolen).", []string{"vm", "kind"}, nil),
		load: prometheus.NewDesc("understudy_monitor_vm_load_per_cpu",
			"1-minute load average per CPU of a standby or spare VM, as its agent last reported it.", []string{"vm", "kind"}, nil),
		overloaded: prometheus.NewDesc("understudy_monitor_standby_overloaded",
			"1 while a standby VM's steal and load have both been above migration.overload's thresholds for its window.", []string{"standby"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (v vmCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- v.steal
	ch <- v.load
	ch <- v.overloaded
}

// Collect implements prometheus.Collector.
func (v vmCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range v.c.vmStatus() {
		if st.Kind == "standby" && !st.SampledAt.IsZero() {
			ch <- prometheus.MustNewConstMetric(v.overloaded, prometheus.GaugeValue, boolValue(st.Overloaded), st.Name)
		}
		if st.Unknown != "" {
			continue
		}
		ch <- prometheus.MustNewConstMetric(v.steal, prometheus.GaugeValue, st.Steal/100, st.Name, st.Kind)
		ch <- prometheus.MustNewConstMetric(v.load, prometheus.GaugeValue, st.LoadPerCPU, st.Name, st.Kind)
	}
}

// vmStatus lists the inventory's standby VMs, then its spares, each with
// its last sample (a standby not sampled yet, or a spare without an agent,
// is unknown).
func (c *Controller) vmStatus() []VMStatus {
	inv := c.plan().inv
	out := []VMStatus{}
	c.vms.mu.Lock()
	for _, sb := range inv.Standby {
		st := VMStatus{Name: sb.Name, Kind: "standby", Unknown: "not sampled yet (the leader samples every move interval)"}
		if v, ok := c.vms.standbys[sb.Name]; ok {
			st = vmFromSample(sb.Name, "standby", v.sample)
			st.Overloaded, st.Why = v.overloaded, v.why
		}
		st.Capacity = VMCapacity{Containers: sb.Capacity.Containers, MemoryBytes: sb.Capacity.Memory}
		out = append(out, st)
	}
	c.vms.mu.Unlock()
	samples := c.spareCapacity().samples()
	for _, sp := range inv.Spares {
		st := VMStatus{Name: sp.Name, Kind: "spare", Unknown: "no agent in the inventory (spares[].agent)"}
		if s, ok := samples[sp.Name]; ok {
			st = vmFromSample(sp.Name, "spare", s)
		} else if sp.Agent != "" {
			st.Unknown = "not sampled yet"
		}
		st.Capacity = VMCapacity{Containers: sp.Capacity.Containers, MemoryBytes: sp.Capacity.Memory}
		out = append(out, st)
	}
	return out
}

func vmFromSample(name, kind string, s capSample) VMStatus {
	st := VMStatus{Name: name, Kind: kind, SampledAt: s.at}
	st.Steal, st.LoadPerCPU, st.Unknown = s.stealAndLoad()
	return st
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
