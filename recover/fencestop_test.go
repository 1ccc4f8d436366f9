package recover

import (
	"context"
	"errors"
	"testing"
)

// TestResetStuckRefusedWhileFenceStopPending: a stuck incident whose frozen
// primary's force-stop was asked for (the DNS flipped) and has not ended
// refuses the operator's reset to the primary, like a failback; once the
// stop is recorded the reset goes ahead.
func TestResetStuckRefusedWhileFenceStopPending(t *testing.T) {
	h := &harness{t: t}
	for _, cmd := range []string{
		`service mode=warm`,
		`trigger source=monitor reason="3 probes failed" at=0s`,
		`done at=20ms`,
		`done at=35ms frozen`,
		`done at=80ms address=10.200.1.100`,
		`done at=90ms`,
		`done at=100ms`,
	} {
		h.run(cmd)
	}
	rec := h.m.Record()
	if !rec.Incident.FenceStopDue() {
		t.Fatalf("after the DNS flip of a frozen primary: FenceStopDue false; phases %v", rec.Incident.Phases)
	}
	// The incident sticks after the flip (as a restart of a step whose
	// outcome is unknown leaves it).
	rec.State, rec.Incident.Stuck = Stuck, "restart interrupted step 5"
	h.m = Restore(h.cfg, rec)
	if err := h.store.Save(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	_, err := h.m.Step(Reset{At: t0.Add(h.now), Reason: "operator"})
	if !errors.Is(err, ErrFenceStopPending) || !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("reset of a stuck incident while its fence-stop is pending: err %v, want ErrFenceStopPending", err)
	}
	if _, err := h.m.Step(FenceStopped{At: t0.Add(h.now), Incident: rec.Incident.ID}); err != nil {
		t.Fatalf("fence-stopped: %v", err)
	}
	acts, err := h.m.Step(Reset{At: t0.Add(h.now), Reason: "operator"})
	if err != nil || len(acts) == 0 {
		t.Fatalf("reset after the stop ended: actions %v, err %v", acts, err)
	}
}
