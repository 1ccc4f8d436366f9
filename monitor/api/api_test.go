package api

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/recover"
)

// TestIncidentSummary: phases are timed from detected and from the phase
// before, in milliseconds to a tenth; the first trigger names the source.
func TestIncidentSummary(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)
	inc := &recover.Incident{ID: "web-1", Opened: t0,
		Triggers: []recover.TriggerRecord{{Source: recover.FromMonitor, Reason: "service-down"}},
		From:     netip.MustParseAddr("10.9.0.11"),
		Phases: []recover.PhaseTime{{Phase: recover.PhaseDetected, At: t0}, {Phase: recover.PhaseConfirmed, At: t0.Add(1500 * time.Microsecond)},
			{Phase: recover.PhaseDNSFlipped, At: t0.Add(30 * time.Millisecond)}}}
	s := Incident(inc)
	if s.Source != "monitor" || s.Reason != "service-down" || s.From != "10.9.0.11" || s.To != "" {
		t.Errorf("summary = %+v", s)
	}
	if len(s.Phases) != 3 || s.Phases[1].AtMS != 1.5 || s.Phases[2].SinceMS != 28.5 || s.TotalMS != 30 {
		t.Errorf("phases = %+v, total %v", s.Phases, s.TotalMS)
	}
	if !s.Phase(recover.PhaseDNSFlipped).Equal(t0.Add(30*time.Millisecond)) || !s.Phase(recover.PhaseHealthy).IsZero() {
		t.Error("Phase does not find the phases reached, or finds one not reached")
	}
	b, err := json.Marshal(s)
	if err != nil || !strings.Contains(string(b), `"phase":"dns-flipped"`) {
		t.Errorf("JSON %s, %v", b, err)
	}
	if Incident(nil) != nil {
		t.Error("a nil incident is not nil")
	}
}
