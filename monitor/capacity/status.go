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
	return st
}

// collector exports the VMs' last samples, and whether each sampled
// standby is overloaded, at each scrape: a VM that left the inventory or
// has no usable sample simply has no series.
type collector struct {
	vms                     func() []api.VMStatus
	steal, load, overloaded *prometheus.Desc
}

// NewCollector returns the collector of the VMs vms lists (understudy_monitor_vm_*
// and understudy_monitor_standby_overloaded).
func NewCollector(vms func() []api.VMStatus) prometheus.Collector {
	return collector{vms: vms,
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
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
