package moves

import (
	"slices"
	"testing"

	"github.com/understudy/understudy/recover"
)

func TestOverloadPick(t *testing.T) {
	rec := func(name string, st recover.State, open string) recover.Record {
		r := recover.Record{Service: name, State: st}
		if open != "" {
			r.Incident = &recover.Incident{ID: name + "-2", Kind: open}
		}
		return r
	}
	standbys := map[string]string{"a": "sb", "b": "sb", "c": "sb", "x": "other"}
	prio := map[string]int{"a": 100, "b": 50, "c": 50, "x": 1}
	tests := []struct {
		name   string
		recs   []recover.Record
		recent []string
		want   string
	}{
		{"lowest priority, ties by name", []recover.Record{rec("a", recover.OnStandby, ""), rec("c", recover.OnStandby, ""), rec("b", recover.OnStandby, ""), rec("x", recover.OnStandby, "")}, nil, "b"},
		{"only services on the standby", []recover.Record{rec("a", recover.OnStandby, ""), rec("b", recover.Primary, ""), rec("c", recover.OnSpare, "")}, nil, "a"},
		{"one migration at a time per standby", []recover.Record{rec("a", recover.OnStandby, ""), rec("b", recover.Migrating, recover.KindMigrate)}, nil, ""},
		{"tried lately is skipped", []recover.Record{rec("a", recover.OnStandby, ""), rec("b", recover.OnStandby, "")}, []string{"b"}, "a"},
		{"none", []recover.Record{rec("a", recover.Primary, "")}, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := overloadPick("sb", tc.recs, standbys,
				func(n string) int { return prio[n] }, func(n string) bool { return slices.Contains(tc.recent, n) })
			if got != tc.want {
				t.Errorf("pick = %q, want %q", got, tc.want)
			}
		})
	}
}
