package recover

import (
	"errors"
	"fmt"
	"testing"
)

// A step the standby refused for capacity records the reason as data on
// the stuck incident (UnprotectedReason), not only in the stuck text; a
// retry clears it, and another failure's stuck incident has none.
func TestUnprotectedReasonIsData(t *testing.T) {
	h := &harness{t: t}
	h.run(`service mode=warm confirm=none fence=none`)
	h.run(`trigger source=monitor reason="vm down" at=0s`)
	inc := h.m.Record().Incident
	const reason = "no capacity (needs 512 MiB, 128 MiB free)"
	_, err := h.m.Step(StepFailed{At: t0, Incident: inc.ID, Step: inc.Current, Attempt: 1,
		Err: "standby \"sb\": permanent: unprotected: " + reason, Permanent: true, Unprotected: reason})
	if err != nil {
		t.Fatal(err)
	}
	rec := h.m.Record()
	if rec.State != Stuck || rec.Incident.UnprotectedReason() != reason {
		t.Fatalf("state %s unprotected %q, want stuck with %q", rec.State, rec.Incident.UnprotectedReason(), reason)
	}
	if _, err := h.m.Step(Trigger{Source: FromCLI, Reason: "retry", At: t0}); err != nil {
		t.Fatal(err)
	}
	if got := h.m.Record().Incident.UnprotectedReason(); got != "" {
		t.Fatalf("after a retry: unprotected %q, want none", got)
	}
	inc = h.m.Record().Incident
	if _, err := h.m.Step(StepFailed{At: t0, Incident: inc.ID, Step: inc.Current, Attempt: inc.Steps[inc.Current].Attempt,
		Err: "agent unreachable", Permanent: true}); err != nil {
		t.Fatal(err)
	}
	if rec := h.m.Record(); rec.State != Stuck || rec.Incident.UnprotectedReason() != "" {
		t.Fatalf("another failure: state %s unprotected %q, want stuck without a capacity reason", rec.State, rec.Incident.UnprotectedReason())
	}
}

// UnprotectedError is ErrUnprotected and the error it stands for.
func TestUnprotectedErrorWraps(t *testing.T) {
	cause := errors.New("activate: no capacity")
	err := fmt.Errorf("%w: %w", ErrPermanent, &UnprotectedError{Reason: cause.Error(), Err: cause})
	if !errors.Is(err, ErrUnprotected) || !errors.Is(err, cause) || !errors.Is(err, ErrPermanent) {
		t.Fatalf("%v: not ErrUnprotected, its cause and ErrPermanent", err)
	}
	if want := ErrPermanent.Error() + ": unprotected: activate: no capacity"; err.Error() != want {
		t.Errorf("text %q, want %q", err, want)
	}
}
