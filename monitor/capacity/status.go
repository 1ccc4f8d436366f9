package capacity

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor/api"
)

// VMs lists the inventory's standby VMs, then its spares, each with its
// last sample (a standby not sampled yet, or a spare without an agent, is
// unknown), as GET /v1/status shows them.
func VMs(inv *inventory.Inventory, standbys *Standbys, spareSamples *Spares) []api.VMStatus {
	out := []api.VMStatus{}
	standbys.mu.Lock()
	for _, sb := range inv.Standby {
		st := api.VMStatus{Name: sb.Name, Kind: "standby", Unknown: "not sampled yet (the leader samples every move interval)"}
		if v, ok := standbys.views[sb.Name]; ok {
			st = fromSample(sb.Name, "standby", v.sample)
			st.Overloaded, st.Why = v.overloaded, v.why
			st.Trigger, st.TriggerState, st.CoolDownUntil = v.trigger, v.state, v.coolUntil
			st.Decisions = append([]string(nil), v.decisions...)
		}
		st.Capacity = api.VMCapacity{Containers: sb.Capacity.Containers, MemoryBytes: sb.Capacity.Memory}
		out = append(out, st)
	}
	standbys.mu.Unlock()
	samples := spareSamples.Samples()
	for _, sp := range inv.Spares {
		st := api.VMStatus{Name: sp.Name, Kind: "spare", Unknown: "no agent in the inventory (spares[].agent)"}
		if s, ok := samples[sp.Name]; ok {
			st = fromSample(sp.Name, "spare", s)
		} else if sp.Agent != "" {
			st.Unknown = "not sampled yet"
		}
		st.Capacity = api.VMCapacity{Containers: sp.Capacity.Containers, MemoryBytes: sp.Capacity.Memory}
		out = append(out, st)
	}
	return out
}

func fromSample(name, kind string, s Sample) api.VMStatus {
	st := api.VMStatus{Name: name, Kind: kind, SampledAt: s.At}
	st.Steal, st.LoadPerCPU, st.Unknown = s.StealAndLoad()
	if s.Err == nil {
		d := detectorSample(s.At, s)
		st.CPUPercent, st.MemoryPercent, st.LoadSource = d.CPUPercent, d.MemoryPercent, s.Cap.LoadSource
	}
	return st
}

// collector exports the VMs' last samples, and whether each sampled
// standby is overloaded, at each scrape: a VM that left the inventory or
// has no usable sample simply has no series.
type collector struct {
	vms                     func() []api.VMStatus
	moves                   func() map[string]float64
	steal, load, overloaded *prometheus.Desc
	cpu, memory, automatic  *prometheus.Desc
}

// NewCollector returns the collector of the VMs vms lists (understudy_monitor_vm_*
// and understudy_monitor_standby_overloaded) and of the automatic moves
// off overloaded standbys that standbys counted
// (understudy_monitor_overload_moves_total).
func NewCollector(vms func() []api.VMStatus, standbys *Standbys) prometheus.Collector {
	return collector{vms: vms, moves: standbys.Moves,
		cpu: prometheus.NewDesc("understudy_monitor_vm_cpu_ratio",
			"CPU use of a standby or spare VM as a share of its CPUs, as its agent last reported it (load-source proc or cgroups).", []string{"vm", "kind"}, nil),
		memory: prometheus.NewDesc("understudy_monitor_vm_memory_ratio",
			"Memory in use of a standby or spare VM as a share of its memory, as its agent last reported it.", []string{"vm", "kind"}, nil),
		automatic: prometheus.NewDesc("understudy_monitor_overload_moves_total",
			"Automatic migrations sent off overloaded standby VMs, by the standby's trigger (load, steal-and-load, memory).", []string{"trigger"}, nil),
		steal: prometheus.NewDesc("understudy_monitor_vm_steal_ratio",
			"CPU steal of a standby or spare VM, as its agent last reported it (a ratio: 0.3 is 30 % of the CPU time stolen).", []string{"vm", "kind"}, nil),
		load: prometheus.NewDesc("understudy_monitor_vm_load_per_cpu",
			"1-minute load average per CPU of a standby or spare VM, as its agent last reported it.", []string{"vm", "kind"}, nil),
		overloaded: prometheus.NewDesc("understudy_monitor_standby_overloaded",
			"1 while a standby VM's steal and load have both been above migration.overload's thresholds for its window.", []string{"standby"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (v collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- v.steal
	ch <- v.load
	ch <- v.overloaded
	ch <- v.cpu
	ch <- v.memory
	ch <- v.automatic
}

// Collect implements prometheus.Collector.
func (v collector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range v.vms() {
		if st.Kind == "standby" && !st.SampledAt.IsZero() {
			ch <- prometheus.MustNewConstMetric(v.overloaded, prometheus.GaugeValue, boolValue(st.Overloaded), st.Name)
		}
		if st.Unknown != "" {
			continue
		}
		ch <- prometheus.MustNewConstMetric(v.steal, prometheus.GaugeValue, st.Steal/100, st.Name, st.Kind)
		ch <- prometheus.MustNewConstMetric(v.load, prometheus.GaugeValue, st.LoadPerCPU, st.Name, st.Kind)
		if st.LoadSource != "" {
			ch <- prometheus.MustNewConstMetric(v.cpu, prometheus.GaugeValue, st.CPUPercent/100, st.Name, st.Kind)
			ch <- prometheus.MustNewConstMetric(v.memory, prometheus.GaugeValue, st.MemoryPercent/100, st.Name, st.Kind)
		}
	}
	for trigger, n := range v.moves() {
		ch <- prometheus.MustNewConstMetric(v.automatic, prometheus.CounterValue, n, trigger)
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
