package recover

import (
	"errors"
	"testing"
)

func TestStateNamesRoundTrip(t *testing.T) {
	want := []string{"primary", "suspect", "failing-over", "on-standby", "migrating", "on-spare", "failing-back", "stuck"}
	for i, name := range want {
		s := State(i)
		if s.String() != name {
			t.Errorf("State(%d) = %q, want %q", i, s, name)
		}
		var back State
		if err := back.UnmarshalText([]byte(name)); err != nil || back != s {
			t.Errorf("UnmarshalText(%q) = %v, %v", name, back, err)
		}
	}
	var s State
	if err := s.UnmarshalText([]byte("lost")); err == nil {
		t.Error("UnmarshalText(lost) succeeded")
	}
}

func TestIllegalTransitionsRefused(t *testing.T) {
	tests := []struct {
		from State
		move func(*Machine) error
		ok   bool
	}{
		{Primary, (*Machine).suspect, true},
		{Primary, (*Machine).failOver, false},
		{Primary, (*Machine).arrive, false},
		{Suspect, (*Machine).failOver, true},
		{Suspect, (*Machine).standDown, true},
		{Suspect, (*Machine).arrive, false},
		{FailingOver, (*Machine).arrive, true},
		{FailingOver, (*Machine).standDown, false},
		{FailingOver, (*Machine).stick, true},
		{OnStandby, (*Machine).reset, true},
		{OnStandby, (*Machine).suspect, false},
		{Stuck, (*Machine).reset, true},
		{Migrating, (*Machine).reset, false},
		{OnStandby, (*Machine).migrate, true},
		{Suspect, (*Machine).migrate, false},
		{Migrating, (*Machine).stick, true},
		{OnSpare, (*Machine).failBack, true},
		{Stuck, (*Machine).failBack, true},
		{Primary, (*Machine).failBack, false},
		{Migrating, (*Machine).arrive, false},
	}
	for _, tt := range tests {
		m := &Machine{rec: Record{Service: "web", State: tt.from}}
		err := tt.move(m)
		if tt.ok != (err == nil) {
			t.Errorf("from %s: err %v, want ok=%v", tt.from, err, tt.ok)
		}
		if err != nil && (!errors.Is(err, ErrIllegalTransition) || m.State() != tt.from) {
			t.Errorf("from %s: refused with %v and state %s; want ErrIllegalTransition and no change", tt.from, err, m.State())
		}
	}
}

// TestEveryKindHasAFlow: each incident kind has its flow, so the machine
// never falls back to a failover's for a move.
func TestEveryKindHasAFlow(t *testing.T) {
	want := map[string]flow{KindFailover: failoverFlow{}, KindMigrate: moveFlow{}, KindFailback: moveFlow{}, KindReset: moveFlow{}}
	for kind, f := range want {
		m := &Machine{rec: Record{Service: "web", Incident: &Incident{Kind: kind}}}
		if got := m.flow(); got != f {
			t.Errorf("kind %q: flow %T, want %T", kind, got, f)
		}
	}
	if len(flows) != len(want) {
		t.Errorf("%d flows, want %d", len(flows), len(want))
	}
}
