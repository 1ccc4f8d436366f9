package signals

import (
	"testing"
	"time"

	"github.com/understudy/understudy/playbooks"
	"github.com/understudy/understudy/recover"
)

func TestSignalsOf(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	fenceFailed := &recover.Incident{Steps: []recover.StepRecord{{Kind: playbooks.Fence, Status: recover.StatusFailed}}}
	flipped := &recover.Incident{Phases: []recover.PhaseTime{{Phase: recover.PhaseDetected}, {Phase: recover.PhaseDNSFlipped}}}
	verified := &recover.Incident{Phases: []recover.PhaseTime{{Phase: recover.PhaseDNSFlipped}, {Phase: recover.PhaseVerified}, {Phase: recover.PhaseOnStandby}}}
	resetUnverified := &recover.Incident{Phases: []recover.PhaseTime{{Phase: recover.PhaseDNSFlipped}, {Phase: recover.PhaseVerified}, {Phase: recover.PhaseDNSReset}}}
	cases := []struct {
		name   string
		rec    recover.Record
		verify bool
		want   Signals
	}{
		{"primary, no incident", recover.Record{State: recover.Primary}, true, Signals{}},
		{"stuck", recover.Record{State: recover.Stuck}, false, Signals{Unprotected: true}},
		{"damped", recover.Record{State: recover.OnStandby, DampedUntil: now.Add(time.Minute)}, false, Signals{Unprotected: true}},
		{"damping over", recover.Record{State: recover.Primary, DampedUntil: now.Add(-time.Minute)}, false, Signals{}},
		{"on standby, fence failed", recover.Record{State: recover.OnStandby, Incident: fenceFailed}, false, Signals{Unfenced: true}},
		{"back on primary after a failed fence", recover.Record{State: recover.Primary, Incident: fenceFailed}, false, Signals{}},
		{"flipped, not verified", recover.Record{State: recover.OnStandby, Incident: flipped}, true, Signals{Unverified: true}},
		{"flipped, no dns.verify servers", recover.Record{State: recover.OnStandby, Incident: flipped}, false, Signals{}},
		{"flipped and verified", recover.Record{State: recover.OnStandby, Incident: verified}, true, Signals{}},
		{"reset flip not verified", recover.Record{State: recover.Primary, Incident: resetUnverified}, true, Signals{Unverified: true}},
	}
	for _, tc := range cases {
		if got := Of(tc.rec, tc.verify, now); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
