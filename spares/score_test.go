package spares

import (
	"slices"
	"strings"
	"testing"
)

const gib = 1 << 30

func TestScore(t *testing.T) {
	web := Service{Name: "web", Zone: "a", Role: "frontend", Memory: gib / 2}
	tests := []struct {
		name    string
		svc     Service
		spares  []Spare
		order   []string // names, eligible by rank then the others
		reasons []string // a fragment of each entry's first reason, same order
	}{
		{
			name: "zone first",
			svc:  web,
			spares: []Spare{
				{Name: "s-b", Zone: "b", FreeMemory: 8 * gib, FreeSlots: 9},
				{Name: "s-a", Zone: "a", Steal: 40, Load1: 3, FreeMemory: gib, FreeSlots: 1},
			},
			order:   []string{"s-a", "s-b"},
			reasons: []string{"chosen: zone a", `lost: other zone "b" (the primary is in "a")`},
		},
		{
			name: "anti-affinity beats steal",
			svc:  web,
			spares: []Spare{
				{Name: "s1", Zone: "a", Roles: []string{"frontend"}, Steal: 1, FreeMemory: 4 * gib, FreeSlots: 4},
				{Name: "s2", Zone: "a", Roles: []string{"db"}, Steal: 20, FreeMemory: gib, FreeSlots: 1},
			},
			order:   []string{"s2", "s1"},
			reasons: []string{"no other frontend", "lost: already hosts role frontend"},
		},
		{
			name: "steal then load",
			svc:  web,
			spares: []Spare{
				{Name: "s1", Zone: "a", Steal: 12, Load1: 0.1, FreeMemory: 4 * gib, FreeSlots: 4},
				{Name: "s2", Zone: "a", Steal: 3, Load1: 0.9, FreeMemory: gib, FreeSlots: 1},
				{Name: "s3", Zone: "a", Steal: 3.5, Load1: 0.2, FreeMemory: gib, FreeSlots: 1},
			},
			order:   []string{"s3", "s2", "s1"},
			reasons: []string{"chosen", "lost: higher load 0.90 vs 0.20 per CPU on s3", "lost: higher steal 12% vs 4% on s3"},
		},
		{
			name: "free capacity breaks ties within tolerance",
			svc:  web,
			spares: []Spare{
				{Name: "s1", Zone: "a", Steal: 3.2, Load1: 0.30, FreeMemory: gib, FreeSlots: 5},
				{Name: "s2", Zone: "a", Steal: 3.0, Load1: 0.35, FreeMemory: 2 * gib, FreeSlots: 1},
				{Name: "s3", Zone: "a", Steal: 3.0, Load1: 0.35, FreeMemory: 2 * gib, FreeSlots: 2},
			},
			order:   []string{"s3", "s2", "s1"},
			reasons: []string{"chosen", "lost: fewer free slots 1 vs 2 on s3", "lost: less free memory 1.0 GiB vs 2.0 GiB on s3"},
		},
		{
			name: "no room",
			svc:  web,
			spares: []Spare{
				{Name: "full", Zone: "a", FreeMemory: 8 * gib, FreeSlots: 0},
				{Name: "small", Zone: "a", FreeMemory: gib / 4, FreeSlots: 3},
			},
			order:   []string{"full", "small"},
			reasons: []string{"lost: no free slot", "lost: not enough free memory (256.0 MiB free, 512.0 MiB needed)"},
		},
		{
			name: "every spare hosts the role",
			svc:  web,
			spares: []Spare{
				{Name: "s1", Zone: "a", Roles: []string{"frontend"}, FreeMemory: gib, FreeSlots: 1},
				{Name: "s2", Zone: "a", Roles: []string{"frontend"}, FreeMemory: gib, FreeSlots: 1},
			},
			order:   []string{"s1", "s2"},
			reasons: []string{"every eligible spare does", "lost: tie with s1, broken by name"},
		},
		{
			name: "measured before unknown, after anti-affinity",
			svc:  web,
			spares: []Spare{
				{Name: "quiet-unknown", Zone: "a", FreeMemory: 8 * gib, FreeSlots: 9, Unmeasured: "agent did not answer"},
				{Name: "busy", Zone: "a", Steal: 30, Load1: 2, FreeMemory: gib, FreeSlots: 1},
				{Name: "same-role", Zone: "a", Roles: []string{"frontend"}, FreeMemory: 8 * gib, FreeSlots: 9},
			},
			order:   []string{"busy", "quiet-unknown", "same-role"},
			reasons: []string{"chosen: zone a, no other frontend, steal 30%", "lost: steal and load unknown (agent did not answer), measured on busy", "lost: already hosts role frontend"},
		},
		{
			name: "all unknown: free capacity decides",
			svc:  web,
			spares: []Spare{
				{Name: "s1", Zone: "a", FreeMemory: gib, FreeSlots: 1, Unmeasured: "no agent"},
				{Name: "s2", Zone: "a", FreeMemory: 2 * gib, FreeSlots: 1, Unmeasured: "no agent"},
			},
			order:   []string{"s2", "s1"},
			reasons: []string{"chosen: zone a, no other frontend, steal and load unknown (no agent)", "lost: less free memory"},
		},
		{
			name:    "no role, no anti-affinity",
			svc:     Service{Name: "batch", Zone: "a"},
			spares:  []Spare{{Name: "s1", Zone: "a", Roles: []string{""}, FreeMemory: gib, FreeSlots: 1}},
			order:   []string{"s1"},
			reasons: []string{"chosen: zone a, steal 0%"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Score(tt.svc, tt.spares)
			var names []string
			for _, r := range got {
				names = append(names, r.Name)
			}
			if !slices.Equal(names, tt.order) {
				t.Fatalf("order %v, want %v", names, tt.order)
			}
			for i, r := range got {
				if len(r.Reasons) == 0 || !strings.Contains(r.Reasons[0], tt.reasons[i]) {
					t.Errorf("%s: reasons %q, want one containing %q", r.Name, r.Reasons, tt.reasons[i])
				}
				if r.Eligible != (r.Rank > 0) || (r.Eligible && r.Rank != i+1) {
					t.Errorf("%s: eligible %v rank %d at position %d", r.Name, r.Eligible, r.Rank, i)
				}
			}
		})
	}
}

func TestBestAndFind(t *testing.T) {
	ranked := Score(Service{Zone: "a"}, []Spare{{Name: "x", Zone: "b", FreeSlots: 1}})
	if _, ok := Best(ranked); ok {
		t.Error("Best found a spare among ineligible ones")
	}
	if r, ok := Find(ranked, "x"); !ok || r.Eligible {
		t.Errorf("Find(x) = %+v, %v", r, ok)
	}
	ranked = Score(Service{Zone: "a"}, []Spare{{Name: "y", Zone: "a", FreeSlots: 1}})
	if sp, ok := Best(ranked); !ok || sp.Name != "y" {
		t.Errorf("Best = %+v, %v; want y", sp, ok)
	}
	if _, ok := Find(ranked, "z"); ok {
		t.Error("Find(z) found a missing spare")
	}
}

// TestScoreStealCeiling: a measured spare above the steal ceiling is not
// eligible, however free; an unmeasured one is not judged by it.
func TestScoreStealCeiling(t *testing.T) {
	svc := Service{Name: "web", Zone: "az1", MaxSteal: 5}
	ranked := Score(svc, []Spare{
		{Name: "busy", Zone: "az1", Steal: 30, FreeSlots: 9, FreeMemory: UnknownMemory},
		{Name: "calm", Zone: "az1", Steal: 0.4, Load1: 0.3, FreeSlots: 1, FreeMemory: UnknownMemory},
	})
	best, ok := Best(ranked)
	if !ok || best.Name != "calm" {
		t.Fatalf("best = %+v, %v; want calm", best, ok)
	}
	if b, _ := Find(ranked, "busy"); b.Eligible || len(b.Reasons) == 0 || !strings.Contains(b.Reasons[0], "steal 30.0% above the ceiling 5.0%") {
		t.Errorf("busy = %+v, want not eligible above the ceiling", b)
	}
	ranked = Score(svc, []Spare{{Name: "dark", Zone: "az1", Unmeasured: "no agent", FreeSlots: 1, FreeMemory: UnknownMemory}})
	if _, ok := Best(ranked); !ok {
		t.Error("an unmeasured spare was refused by the steal ceiling")
	}
}
