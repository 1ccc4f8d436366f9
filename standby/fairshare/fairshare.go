// Package fairshare divides a standby VM among its active containers by
// priority: each gets a CPU allowance (limits.cpu.allowance, a soft limit)
// of priority/Σpriority of 100%, and memory equal to its reservation plus
// its share of what the reservations leave. It only computes; the standby
// agent applies the shares through its runtime (standby/fairshare.go).
package fairshare

import (
	"cmp"
	"slices"
)

// DefaultPriority is the weight of a service whose spec sets none (the
// inventory's default).
const DefaultPriority = 100

// Member is one active container, as Compute weighs it.
type Member struct {
	Name     string
	Priority int   // 0 means DefaultPriority
	Memory   int64 // bytes reserved by its spec; 0 when none
}

// Share is what one active container is given.
type Share struct {
	Service      string `json:"service"`
	Priority     int    `json:"priority"`
	CPUAllowance int    `json:"cpu_allowance_percent"` // limits.cpu.allowance, percent
	Memory       int64  `json:"memory_limit"`          // limits.memory, bytes; 0 leaves it alone
}

// Compute divides the VM among members by priority: each gets a CPU
// allowance of priority/Σpriority of 100% (at least 1%; rounded by largest
// remainder so the allowances add up to 100), and memory equal to its
// reservation plus priority/Σpriority of what the reservations leave of
// memory (whole MiB; nothing when memory is 0). The result is sorted by name.
func Compute(members []Member, memory int64) []Share {
	if len(members) == 0 {
		return nil
	}
	ms := slices.Clone(members)
	slices.SortFunc(ms, func(a, b Member) int { return cmp.Compare(a.Name, b.Name) })
	total := 0
	var reserved int64
	for i := range ms {
		if ms[i].Priority <= 0 {
			ms[i].Priority = DefaultPriority
		}
		total += ms[i].Priority
		reserved += max(ms[i].Memory, 0)
	}
	cpu := apportion(ms, total, 100)
	const mib = 1 << 20
	rest := max(memory-reserved, 0) / mib
	extra := apportion(ms, total, int(rest))
	out := make([]Share, len(ms))
	for i, m := range ms {
		out[i] = Share{Service: m.Name, Priority: m.Priority, CPUAllowance: max(cpu[i], 1)}
		if memory > 0 {
			out[i].Memory = max(m.Memory, 0) + int64(extra[i])*mib
		}
	}
	return out
}

// apportion splits n units by priority with the largest-remainder method;
// ties go to the higher priority, then to the earlier name.
func apportion(ms []Member, total, n int) []int {
	out := make([]int, len(ms))
	type rem struct{ i, r int }
	rems := make([]rem, len(ms))
	given := 0
	for i, m := range ms {
		q := n * m.Priority
		out[i] = q / total
		given += out[i]
		rems[i] = rem{i, q % total}
	}
	slices.SortStableFunc(rems, func(a, b rem) int {
		if c := cmp.Compare(b.r, a.r); c != 0 {
			return c
		}
		return cmp.Compare(ms[b.i].Priority, ms[a.i].Priority)
	})
	for k := 0; given < n; k++ {
		out[rems[k%len(rems)].i]++
		given++
	}
	return out
}
