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
	svcs := map[string]Service{"a": {Standby: "sb", Priority: 100}, "b": {Standby: "sb", Priority: 50},
		"c": {Standby: "sb", Priority: 50}, "x": {Standby: "other", Priority: 1},
		"heavy": {Standby: "sb", Priority: 100}, "light": {Standby: "sb", Priority: 100}, "pinned": {Standby: "sb", Priority: 1, Pinned: true}}
	shares := map[string]float64{"heavy": 62, "light": 38, "pinned": 90, "a": 10}
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
		{"the heaviest of one priority relieves most", []recover.Record{rec("light", recover.OnStandby, ""), rec("a", recover.OnStandby, ""), rec("heavy", recover.OnStandby, "")}, nil, "heavy"},
		{"pinned never moves, however heavy", []recover.Record{rec("pinned", recover.OnStandby, ""), rec("light", recover.OnStandby, "")}, nil, "light"},
		{"only pinned left", []recover.Record{rec("pinned", recover.OnStandby, "")}, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := overloadPick("sb", tc.recs, svcs, shares, func(n string) bool { return slices.Contains(tc.recent, n) })
			if got != tc.want {
				t.Errorf("pick = %q, want %q", got, tc.want)
			}
		})
	}
}
