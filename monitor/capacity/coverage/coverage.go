// Package coverage is the planning report of `understudy plan`: for each
// failure domain of an inventory (each hypervisor, each zone, optionally
// each pair of hypervisors), which services the standby VMs would recover,
// in which order and how fast, which would be left unprotected and why;
// how old each synced service's copy is, and which exceed their max-rpo;
// and what the shared standby saves against a dedicated warm standby per
// VM and a VM restore from backup.
//
// The order and the refusals come from admit.Decide, the rule the monitor
// applies when a domain is lost. The expected times come from the drill
// history (the median of the last drills of each standby mode). It does no
// I/O: the command reads the inventory, the history and the monitor's
// status and hands them in.
package coverage

import (
	"fmt"
	"slices"
	"strings"

	"github.com/understudy/understudy/drill"
	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor/capacity/admit"
)

// The kinds of failure domain.
const (
	KindHypervisor = "hypervisor"
	KindZone       = "zone"
	KindPair       = "pair"
)

// Placement is where the monitor says a service runs now (GET /v1/status):
// Where is primary, standby or spare, Host the VM; Prepared that its
// container on the standby is ready.
type Placement struct {
	Where, Host string
	Prepared    bool
}

// Input is what a report is computed from.
type Input struct {
	// Name is the inventory file as the operator gave it.
	Name string
	// Inventory is the validated inventory.
	Inventory *inventory.Inventory
	// Drills is the drill history, oldest first (report.ReadHistory).
	Drills []drill.Result
	// Live, when not nil, is every service's placement from the monitor:
	// the standby's used capacity is what runs there now. Without it, every
	// warm service counts as running on its standby.
	Live map[string]Placement
	// LiveSource names where Live came from (the monitor's URL).
	LiveSource string
	// Copies, when not nil, is every synced service's standby copy from
	// the monitor; without it, the copies' ages are not known.
	Copies map[string]CopyLive
	// Pairs adds every pair of hypervisors as a failure domain.
	Pairs bool
}

// Report is the coverage and cost report. Its JSON is `understudy plan
// --json`; keep the names stable.
type Report struct {
	Inventory string `json:"inventory"`
	// Capacity says where the standbys' used capacity comes from.
	Capacity string `json:"capacity"`
	// Drills are the figures the expected times come from, per mode.
	Drills  []ModeFigure `json:"drills"`
	Domains []Domain     `json:"domains"`
	Schemes []Scheme     `json:"schemes"`
	// RecoveryPoints are the services' copies: how old a failover's
	// content would be, and which exceed their max-rpo.
	RecoveryPoints RecoveryPoints `json:"recovery_points"`
	// Research is the research's own cost figure, quoted beside ours.
	Research string `json:"research"`
	// Currency labels every cost.
	Currency string `json:"currency,omitempty"`
}

// ModeFigure is the recovery time of one standby mode in the last drills.
type ModeFigure struct {
	Mode string `json:"mode"`
	// Drills is how many drills the median is of (0: no drill yet).
	Drills   int    `json:"drills"`
	MedianMS *int64 `json:"median_ms"`
	MinMS    *int64 `json:"min_ms,omitempty"`
	MaxMS    *int64 `json:"max_ms,omitempty"`
}

// Domain is what the loss of one failure domain does.
type Domain struct {
	Kind        string   `json:"kind"`
	Name        string   `json:"name"`
	Hypervisors []string `json:"hypervisors"`
	// Services is how many services have their primary in the domain.
	Services    int           `json:"services"`
	Recovered   []Recovery    `json:"recovered"`
	Unprotected []Unprotected `json:"unprotected"`
}

// Recovery is one service a standby would take, in the order it takes them.
type Recovery struct {
	Order    int    `json:"order"`
	Service  string `json:"service"`
	Standby  string `json:"standby"`
	Priority int    `json:"priority"`
	Mode     string `json:"mode"`
	Memory   int64  `json:"memory_bytes"`
	// Running: the container already runs on the standby (warm, or the
	// service is already served from it).
	Running bool `json:"running"`
	// ExpectedMS is the drills' median for the mode; nil: no drill yet.
	ExpectedMS *int64 `json:"expected_ms"`
	Expected   string `json:"expected"`
}

// Unprotected is one service of the domain no standby would take.
type Unprotected struct {
	Service  string `json:"service"`
	Standby  string `json:"standby"`
	Priority int    `json:"priority"`
	Mode     string `json:"mode"`
	Memory   int64  `json:"memory_bytes"`
	Reason   string `json:"reason"`
}

// Compute builds the report of in.
func Compute(in Input) Report {
	inv := in.Inventory
	figs := modeFigures(in.Drills)
	r := Report{Inventory: in.Name, Capacity: capacitySource(in), Drills: figs}
	for _, d := range domains(inv, in.Pairs) {
		r.Domains = append(r.Domains, lose(in, d, figs))
	}
	r.Schemes, r.Currency = schemes(inv, figs)
	r.RecoveryPoints = recoveryPoints(in)
	r.Research = ResearchCost
	return r
}

// UnprotectedAbove lists "service (domain)" for every service of priority
// above p that some domain's loss leaves unprotected, in report order.
func (r Report) UnprotectedAbove(p int) []string {
	var out []string
	for _, d := range r.Domains {
		for _, u := range d.Unprotected {
			if u.Priority > p {
				out = append(out, fmt.Sprintf("%s (priority %d, %s %s: %s)", u.Service, u.Priority, d.Kind, d.Name, u.Reason))
			}
		}
	}
	return out
}

func capacitySource(in Input) string {
	if in.Live != nil {
		return "live: what runs on each standby now, from the monitor at " + in.LiveSource
	}
	return "from the inventory: every warm container counts as running on its standby"
}

// domain is a failure domain before its loss is computed.
type domain struct {
	kind, name string
	hvs        []string
	zone       string // KindZone: the zone, whose standbys are lost with it
}

// domains lists each hypervisor, each zone, and with pairs each pair of
// hypervisors, in inventory order.
func domains(inv *inventory.Inventory, pairs bool) []domain {
	var out []domain
	var zones []string
	for _, h := range inv.Hypervisors {
		out = append(out, domain{kind: KindHypervisor, name: h.Name, hvs: []string{h.Name}})
		if !slices.Contains(zones, h.Zone) {
			zones = append(zones, h.Zone)
		}
	}
	for _, z := range zones {
		d := domain{kind: KindZone, name: z, zone: z}
		for _, h := range inv.Hypervisors {
			if h.Zone == z {
				d.hvs = append(d.hvs, h.Name)
			}
		}
		out = append(out, d)
	}
	if pairs {
		hs := inv.Hypervisors
		for i := range hs {
			for j := i + 1; j < len(hs); j++ {
				out = append(out, domain{kind: KindPair, name: hs[i].Name + "+" + hs[j].Name, hvs: []string{hs[i].Name, hs[j].Name}})
			}
		}
	}
	return out
}

// lose computes what each standby does when d is lost.
func lose(in Input, d domain, figs []ModeFigure) Domain {
	inv := in.Inventory
	out := Domain{Kind: d.kind, Name: d.name, Hypervisors: d.hvs, Recovered: []Recovery{}, Unprotected: []Unprotected{}}
	hvOf := map[string]string{}
	for _, vm := range inv.VMs {
		hvOf[vm.Name] = vm.Hypervisor
	}
	for _, sb := range inv.Standby {
		var cands []admit.Candidate
		c := admit.Capacity{Slots: sb.Capacity.Containers, Memory: sb.Capacity.Memory}
		byName := map[string]inventory.Service{}
		for _, s := range inv.Services {
			if s.Standby != sb.Name {
				continue
			}
			running := runsOn(in, s, sb.Name)
			if running {
				c.UsedSlots++
				c.UsedMemory += s.Container.Limits.Memory
			}
			if !slices.Contains(d.hvs, hvOf[s.VM]) || onSpare(in, s) {
				continue
			}
			byName[s.Name] = s
			cands = append(cands, admit.Candidate{Service: s.Name, Priority: s.Priority, Memory: s.Container.Limits.Memory, Running: running})
		}
		out.Services += len(cands)
		if d.zone != "" && sb.Zone == d.zone {
			for _, k := range sortedByPriority(cands) {
				s := byName[k.Service]
				out.Unprotected = append(out.Unprotected, unprotected(s, fmt.Sprintf("standby %s is in zone %s and is lost with it", sb.Name, d.zone)))
			}
			continue
		}
		dec := admit.Decide(c, cands)
		for _, name := range dec.Admitted {
			s := byName[name]
			ms, text := expected(s, runsOn(in, s, sb.Name), in.Live != nil && in.Live[s.Name].Where == "standby", figs)
			out.Recovered = append(out.Recovered, Recovery{
				Order: len(out.Recovered) + 1, Service: name, Standby: sb.Name, Priority: s.Priority, Mode: string(s.Mode),
				Memory: s.Container.Limits.Memory, Running: runsOn(in, s, sb.Name), ExpectedMS: ms, Expected: text,
			})
		}
		for _, ref := range dec.Refused {
			out.Unprotected = append(out.Unprotected, unprotected(byName[ref.Service], ref.Reason()))
		}
	}
	return out
}

func unprotected(s inventory.Service, reason string) Unprotected {
	return Unprotected{Service: s.Name, Standby: s.Standby, Priority: s.Priority, Mode: string(s.Mode), Memory: s.Container.Limits.Memory, Reason: reason}
}

// sortedByPriority orders candidates as admit.Decide does: highest
// priority first, ties by name.
func sortedByPriority(cs []admit.Candidate) []admit.Candidate {
	cs = slices.Clone(cs)
	slices.SortFunc(cs, func(a, b admit.Candidate) int {
		if a.Priority != b.Priority {
			return b.Priority - a.Priority
		}
		return strings.Compare(a.Service, b.Service)
	})
	return cs
}

// runsOn reports whether s's container runs on standby sb: live, when it
// is served from there or is warm and prepared; from the inventory (or a
// service the monitor does not list), when it is warm.
func runsOn(in Input, s inventory.Service, sb string) bool {
	if in.Live == nil {
		return s.Mode == inventory.ModeWarm
	}
	p, ok := in.Live[s.Name]
	if !ok { // the monitor does not list it: as the inventory says
		return s.Mode == inventory.ModeWarm
	}
	if p.Where == "standby" {
		return p.Host == sb
	}
	return p.Where == "primary" && p.Prepared && s.Mode == inventory.ModeWarm
}

// onSpare reports whether s already runs on a spare (live only): the loss
// of its primary's domain does not touch it.
func onSpare(in Input, s inventory.Service) bool {
	return in.Live != nil && in.Live[s.Name].Where == "spare"
}

// expected is the expected recovery of s: its mode's drill median.
func expected(s inventory.Service, running, served bool, figs []ModeFigure) (*int64, string) {
	if served {
		return nil, "already served from the standby"
	}
	mode := string(s.Mode)
	if s.Mode == inventory.ModeWarm && !running {
		mode = string(inventory.ModeCold) // a warm container that is not running starts like a cold one
	}
	for _, f := range figs {
		if f.Mode == mode && f.MedianMS != nil {
			return f.MedianMS, fmt.Sprintf("%s (%s, median of %d drills)", Millis(*f.MedianMS), mode, f.Drills)
		}
	}
	return nil, fmt.Sprintf("no drill yet (%s)", mode)
}

// Millis writes milliseconds as seconds with one decimal: 1.2 s, 850 ms below 1 s.
func Millis(ms int64) string {
	if ms < 1000 {
		return fmt.Sprintf("%d ms", ms)
	}
	return fmt.Sprintf("%.1f s", float64(ms)/1000)
}
