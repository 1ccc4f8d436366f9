package spares

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Tolerances under which two spares count as equally loaded, so that
// measurement noise does not outweigh free capacity.
const (
	StealTolerance = 1.0  // percentage points of CPU steal
	LoadTolerance  = 0.25 // load average per CPU
)

// Service is what spare ranking needs to know about the service to move.
type Service struct {
	Name   string
	Zone   string // the zone of its original primary's hypervisor
	Role   string // empty: no anti-affinity
	Memory int64  // bytes it needs; 0: unknown, not checked
	// MaxSteal is the steal ceiling of a target, in percent: a measured
	// spare above it is not eligible (it is as starved as the standby the
	// service leaves); 0: no ceiling.
	MaxSteal float64
}

// Spare is one candidate VM and what was measured on it.
type Spare struct {
	Name       string
	Zone       string
	Roles      []string // roles of the services it hosts now
	Steal      float64  // CPU steal, percent
	Load1      float64  // 1-minute load average per CPU
	FreeMemory int64    // bytes; UnknownMemory when the inventory gives no capacity
	FreeSlots  int      // containers it can still take
	// Unmeasured, when not empty, says why Steal and Load1 are unknown
	// (the spare has no agent, its agent did not answer); they are then
	// ignored, and the spare ranks after the measured ones.
	Unmeasured string
}

// Ranked is a spare with its verdict.
type Ranked struct {
	Spare
	Eligible bool     // in the right zone and with room for the service
	Rank     int      // 1 is the best eligible spare; 0 when not eligible
	Reasons  []string // why it was chosen, or why it lost
}

// Score ranks spares for svc. Only spares in the primary's zone with a free
// slot and enough free memory are eligible. Among them, a spare that hosts
// no service of svc's role comes first (anti-affinity: losing one spare
// must not take a whole role down), then a spare whose steal and load were
// measured (an unknown one is never taken for idle), then the lowest steal,
// then the lowest load, then the most free memory, then the most free
// slots, then the name.
// The result lists the eligible spares by rank, then the others in input
// order; every entry says why.
func Score(svc Service, spares []Spare) []Ranked {
	var ok, out []Ranked
	for _, sp := range spares {
		if why := ineligible(svc, sp); why != "" {
			out = append(out, Ranked{Spare: sp, Reasons: []string{"lost: " + why}})
			continue
		}
		ok = append(ok, Ranked{Spare: sp, Eligible: true})
	}
	slices.SortStableFunc(ok, func(a, b Ranked) int { return compare(svc, a.Spare, b.Spare) })
	for i := range ok {
		ok[i].Rank = i + 1
		if i == 0 {
			ok[i].Reasons = []string{"chosen: " + summary(svc, ok[i].Spare)}
			continue
		}
		ok[i].Reasons = []string{"lost: " + lostTo(svc, ok[i].Spare, ok[0].Spare)}
	}
	return append(ok, out...)
}

// Best returns the best eligible spare of a Score result.
func Best(ranked []Ranked) (Spare, bool) {
	if len(ranked) == 0 || !ranked[0].Eligible {
		return Spare{}, false
	}
	return ranked[0].Spare, true
}

// Find returns the entry of the spare named name (for --to NAME).
func Find(ranked []Ranked, name string) (Ranked, bool) {
	for _, r := range ranked {
		if r.Name == name {
			return r, true
		}
	}
	return Ranked{}, false
}

// ineligible says why sp cannot take svc, or "".
func ineligible(svc Service, sp Spare) string {
	switch {
	case sp.Zone != svc.Zone:
		return fmt.Sprintf("other zone %q (the primary is in %q)", sp.Zone, svc.Zone)
	case sp.FreeSlots <= 0:
		return "no free slot"
	case svc.MaxSteal > 0 && sp.Unmeasured == "" && sp.Steal > svc.MaxSteal:
		return fmt.Sprintf("steal %.1f%% above the ceiling %.1f%%", sp.Steal, svc.MaxSteal)
	case svc.Memory > 0 && sp.FreeMemory < svc.Memory:
		return fmt.Sprintf("not enough free memory (%s free, %s needed)", bytes(sp.FreeMemory), bytes(svc.Memory))
	}
	return ""
}

func hostsRole(svc Service, sp Spare) bool {
	return svc.Role != "" && slices.Contains(sp.Roles, svc.Role)
}

// compare orders two eligible spares, better first.
func compare(svc Service, a, b Spare) int {
	if ra, rb := hostsRole(svc, a), hostsRole(svc, b); ra != rb {
		if ra {
			return 1
		}
		return -1
	}
	if ua, ub := a.Unmeasured != "", b.Unmeasured != ""; ua != ub {
		if ua {
			return 1
		}
		return -1
	}
	if c := fuzzy(a.Steal, b.Steal, StealTolerance); c != 0 {
		return c
	}
	if c := fuzzy(a.Load1, b.Load1, LoadTolerance); c != 0 {
		return c
	}
	if c := cmp.Compare(b.FreeMemory, a.FreeMemory); c != 0 {
		return c
	}
	if c := cmp.Compare(b.FreeSlots, a.FreeSlots); c != 0 {
		return c
	}
	return cmp.Compare(a.Name, b.Name)
}

// fuzzy compares a and b, calling them equal within tol.
func fuzzy(a, b, tol float64) int {
	if a-b >= tol {
		return 1
	}
	if b-a >= tol {
		return -1
	}
	return 0
}

// lostTo says which rule put sp behind the winner w.
func lostTo(svc Service, sp, w Spare) string {
	switch {
	case hostsRole(svc, sp) && !hostsRole(svc, w):
		return fmt.Sprintf("already hosts role %s", svc.Role)
	case sp.Unmeasured != "" && w.Unmeasured == "":
		return fmt.Sprintf("steal and load unknown (%s), measured on %s", sp.Unmeasured, w.Name)
	case fuzzy(sp.Steal, w.Steal, StealTolerance) > 0:
		return fmt.Sprintf("higher steal %.0f%% vs %.0f%% on %s", sp.Steal, w.Steal, w.Name)
	case fuzzy(sp.Load1, w.Load1, LoadTolerance) > 0:
		return fmt.Sprintf("higher load %.2f vs %.2f per CPU on %s", sp.Load1, w.Load1, w.Name)
	case sp.FreeMemory < w.FreeMemory:
		return fmt.Sprintf("less free memory %s vs %s on %s", bytes(sp.FreeMemory), bytes(w.FreeMemory), w.Name)
	case sp.FreeSlots < w.FreeSlots:
		return fmt.Sprintf("fewer free slots %d vs %d on %s", sp.FreeSlots, w.FreeSlots, w.Name)
	}
	return fmt.Sprintf("tie with %s, broken by name", w.Name)
}

// summary says what made the winner eligible and good.
func summary(svc Service, sp Spare) string {
	parts := []string{"zone " + sp.Zone}
	switch {
	case svc.Role == "":
	case hostsRole(svc, sp):
		parts = append(parts, "hosts role "+svc.Role+" (every eligible spare does)")
	default:
		parts = append(parts, "no other "+svc.Role)
	}
	if sp.Unmeasured != "" {
		parts = append(parts, "steal and load unknown ("+sp.Unmeasured+")")
	} else {
		parts = append(parts, fmt.Sprintf("steal %.0f%%", sp.Steal), fmt.Sprintf("load %.2f per CPU", sp.Load1))
	}
	if sp.FreeMemory == UnknownMemory {
		parts = append(parts, "memory capacity not given")
	} else {
		parts = append(parts, bytes(sp.FreeMemory)+" free")
	}
	parts = append(parts, fmt.Sprintf("%d free slot(s)", sp.FreeSlots))
	return strings.Join(parts, ", ")
}

// UnknownMemory is the FreeMemory of a spare whose memory capacity is not
// known: it never lacks memory, and it ranks as having the most.
const UnknownMemory = int64(1) << 62

// bytes formats a size for people.
func bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
