// Package admit is the pure admission rule of a standby VM that cannot take
// every service that failed over to it: which services it takes, in which
// order, and why the others are refused. It does no I/O: the monitor calls
// Decide at failure time with the agent's live capacity, and `understudy
// plan` calls the same function with the inventory's capacity to predict
// coverage.
//
// Priority is the inventory's service `priority` (1–1000, default 100):
// higher is more important. It is the weight a service gets of a busy
// standby's CPU (standby/fairshare) and the move policy moves the lowest
// priority first (monitor/moves); here the highest priority is admitted
// first.
package admit

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/understudy/understudy/internal/yamlpos"
)

// Capacity is what a standby VM can hold and what it already holds. Slots
// counts services (containers); Memory is in bytes. Slots 0 or Memory 0
// means unlimited in that dimension. UsedSlots and UsedMemory already
// include every Running candidate.
type Capacity struct {
	Slots, UsedSlots   int
	Memory, UsedMemory int64
}

// Candidate is one service that wants a place on the standby. Memory is its
// memory limit in bytes (0: none, it needs no memory of the budget).
// Running means it is already on the standby (a warm container): it keeps
// its place and is already counted in Capacity's Used fields.
type Candidate struct {
	Service  string
	Priority int
	Memory   int64
	Running  bool
}

// Refusal is a candidate the standby cannot take and what it lacks. The
// memory pair is set when the standby limits memory, the slot pair when it
// limits slots; Reason names the dimensions that are short.
type Refusal struct {
	Service                string
	NeedMemory, FreeMemory int64
	NeedSlots, FreeSlots   int
}

// Reason is the refusal as an operator reads it, for example
// "no capacity (needs 512 MiB, 128 MiB free)" or
// "no capacity (needs 1 slot, 0 free)"; when both are short, both, slots
// first, separated by "; ".
func (r Refusal) Reason() string {
	var parts []string
	if r.NeedSlots > r.FreeSlots {
		parts = append(parts, fmt.Sprintf("needs %s, %d free", plural(r.NeedSlots, "slot"), r.FreeSlots))
	}
	if r.NeedMemory > r.FreeMemory {
		parts = append(parts, fmt.Sprintf("needs %s, %s free", size(r.NeedMemory), size(r.FreeMemory)))
	}
	if len(parts) == 0 {
		return "no capacity"
	}
	return "no capacity (" + strings.Join(parts, "; ") + ")"
}

// Decision is the outcome of Decide: the admitted services in the order the
// standby takes them (running ones first, then by priority) and the refused
// ones in priority order.
type Decision struct {
	Admitted []string
	Refused  []Refusal
}

// Decide admits candidates onto a standby of capacity c. Running candidates
// are always admitted first (they keep their place even when the standby is
// over its capacity). The others are taken by priority, highest first, ties
// by service name; each takes one slot and its Memory. A candidate that does
// not fit is refused and the next one is still tried, so a smaller service
// of lower priority may take what a larger one cannot use. Nothing is
// half-admitted: a candidate fits in every limited dimension or is refused.
// cands is not modified.
func Decide(c Capacity, cands []Candidate) Decision {
	sorted := slices.Clone(cands)
	slices.SortStableFunc(sorted, func(a, b Candidate) int {
		if a.Running != b.Running {
			if a.Running {
				return -1
			}
			return 1
		}
		if n := cmp.Compare(b.Priority, a.Priority); n != 0 {
			return n
		}
		return cmp.Compare(a.Service, b.Service)
	})
	var d Decision
	usedSlots, usedMem := c.UsedSlots, c.UsedMemory
	for _, k := range sorted {
		if k.Running {
			d.Admitted = append(d.Admitted, k.Service)
			continue
		}
		slotsShort := c.Slots > 0 && usedSlots+1 > c.Slots
		memShort := c.Memory > 0 && usedMem+k.Memory > c.Memory
		if slotsShort || memShort {
			d.Refused = append(d.Refused, refusal(c, k, usedSlots, usedMem))
			continue
		}
		usedSlots++
		usedMem += k.Memory
		d.Admitted = append(d.Admitted, k.Service)
	}
	return d
}

// refusal records what k lacks on c at the usage so far.
func refusal(c Capacity, k Candidate, usedSlots int, usedMem int64) Refusal {
	r := Refusal{Service: k.Service}
	if c.Slots > 0 {
		r.NeedSlots, r.FreeSlots = 1, max(c.Slots-usedSlots, 0)
	}
	if c.Memory > 0 {
		r.NeedMemory, r.FreeMemory = k.Memory, max(c.Memory-usedMem, 0)
	}
	return r
}

// plural writes "1 slot", "2 slots".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// size writes bytes as yamlpos.FormatSize does, with a space before the
// unit: 512 MiB, 2 GiB, 0 MiB.
func size(n int64) string {
	if n == 0 {
		return "0 MiB"
	}
	s := yamlpos.FormatSize(n)
	if strings.HasSuffix(s, " bytes") {
		return s
	}
	i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	return s[:i] + " " + s[i:]
}
