package monitor

import (
	"testing"
	"time"

	"github.com/understudy/understudy/recover"
)

// A registered failure stops holding its place in the admission gate as
// soon as its incident closes or the service is back on its primary (a
// damped or refused trigger), not only after the gate's PendingTTL; an
// open incident keeps it until its activate step.
func TestOnSaveForgetsAFailureThatEnded(t *testing.T) {
	c := newIdle(t, testInventory, map[string]*fakeAgent{"sb": newFakeAgent()})
	open := &recover.Incident{ID: "web-1", Service: "web"}
	for _, tc := range []struct {
		name    string
		rec     recover.Record
		pending bool
	}{
		{"open incident", recover.Record{Service: "web", State: recover.FailingOver, Incident: open}, true},
		{"closed incident", recover.Record{Service: "web", State: recover.OnStandby,
			Incident: &recover.Incident{ID: "web-1", Service: "web", Closed: time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC), Result: recover.ResultRecovered}}, false},
		{"back on the primary, no incident", recover.Record{Service: "web", State: recover.Primary}, false},
	} {
		c.gate.Register("web")
		c.onSave(tc.rec)
		if got := c.gate.Pending("web"); got != tc.pending {
			t.Errorf("%s: pending %v after the save, want %v", tc.name, got, tc.pending)
		}
		c.gate.Forget("web")
	}
}
