package standby

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/understudy/understudy/internal/tlsfiles"
)

// capacityCollector exports, at each scrape, what the agent reports in
// GET /v1/health and GET /v1/capacity: whether it is ready, the epoch it
// holds, its slots and memory, and the VM's load and steal. A capacity
// that cannot be read (no /proc) leaves only the health series.
type capacityCollector struct {
	a                               *Agent
	ready, epoch, slots, running    *prometheus.Desc
	memLimit, memReserved, memTotal *prometheus.Desc
	memAvailable, load, steal, cpus *prometheus.Desc
	activeShares                    *prometheus.Desc
}

func newCapacityCollector(a *Agent) capacityCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("understudy_agent_"+name, help, labels, nil)
	}
	return capacityCollector{a: a,
		ready:        d("ready", "1 once the agent reconciled its containers and serves activations, else 0."),
		epoch:        d("epoch", "The highest monitor epoch the agent accepted (it refuses lower ones)."),
		slots:        d("capacity_containers", "Containers the agent may run at once (capacity.containers)."),
		running:      d("containers_running", "Containers running now (warm standbys and activated services)."),
		memLimit:     d("capacity_memory_bytes", "Memory the agent may give its containers (capacity.memory)."),
		memReserved:  d("memory_reserved_bytes", "Memory of the running containers' services."),
		memTotal:     d("vm_memory_total_bytes", "The standby VM's memory (MemTotal)."),
		memAvailable: d("vm_memory_available_bytes", "The standby VM's available memory (MemAvailable)."),
		load:         d("vm_load_average", "The standby VM's load average, by window (1m, 5m, 15m).", "window"),
		steal:        d("vm_steal_ratio", "CPU steal of the standby VM over the last sampling interval, as a ratio (0.3 is 30 %)."),
		cpus:         d("vm_cpus", "CPUs of the standby VM."),
		activeShares: d("container_cpu_allowance_ratio", "CPU allowance (fair share) of each active container, as a ratio of the VM (0.5 is half).", "service"),
	}
}

// Describe implements prometheus.Collector.
func (c capacityCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.ready, c.epoch, c.slots, c.running, c.memLimit, c.memReserved,
		c.memTotal, c.memAvailable, c.load, c.steal, c.cpus, c.activeShares} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c capacityCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	h := c.a.Health()
	ready := 0.0
	if h.Ready {
		ready = 1
	}
	gauge(c.ready, ready)
	gauge(c.epoch, float64(h.Epoch))
	cp, err := c.a.Capacity()
	if err != nil {
		return
	}
	gauge(c.slots, float64(cp.SlotsTotal))
	gauge(c.running, float64(cp.ContainersRunning))
	gauge(c.memLimit, float64(cp.MemoryLimit))
	gauge(c.memReserved, float64(cp.MemoryReserved))
	gauge(c.memTotal, float64(cp.MemoryTotal))
	gauge(c.memAvailable, float64(cp.MemoryFree))
	for i, w := range []string{"1m", "5m", "15m"} {
		gauge(c.load, cp.Load[i], w)
	}
	gauge(c.steal, cp.StealPercent/100)
	gauge(c.cpus, float64(cp.CPUs))
	for _, s := range cp.Shares {
		gauge(c.activeShares, float64(s.CPUAllowance)/100, s.Service)
	}
}

// registerGauges adds the capacity collector and the expiry of the
// agent's server certificate to its registry.
func (a *Agent) registerGauges() {
	a.metrics.registry.MustRegister(newCapacityCollector(a), tlsfiles.NewExpiryCollector(func() []tlsfiles.CertFile {
		if a.cfg.TLS.Cert == "" {
			return nil
		}
		return []tlsfiles.CertFile{{Role: "agent-server", Path: a.cfg.TLS.Cert}}
	}))
}
