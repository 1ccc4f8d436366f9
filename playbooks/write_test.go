package playbooks

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestWriteReadsBack: what Write prints, Parse reads as the same steps
// (but for their source lines), for every embedded default.
func TestWriteReadsBack(t *testing.T) {
	var pbs []*Playbook
	for _, name := range Names() {
		pb, err := Default(name)
		if err != nil {
			t.Fatal(err)
		}
		pbs = append(pbs, pb)
	}
	for _, pb := range pbs {
		var b strings.Builder
		if err := Write(&b, pb); err != nil {
			t.Fatal(err)
		}
		back, err := Parse("written", []byte(b.String()))
		if err != nil {
			t.Fatalf("Parse(Write) = %v:\n%s", err, b.String())
		}
		if !reflect.DeepEqual(withoutLines(back.Steps), withoutLines(pb.Steps)) {
			t.Errorf("read back %+v, want %+v:\n%s", back.Steps, pb.Steps, b.String())
		}
	}
}

func TestWriteShowsOnlySetKeys(t *testing.T) {
	pb := &Playbook{Steps: []Step{
		{Kind: pbKind(t), Timeout: 5 * time.Second, Retry: Retry{Attempts: 3, Backoff: time.Second, MaxBackoff: 4 * time.Second, Budget: 20 * time.Second}, Idempotent: true},
		{Kind: pbKind(t)},
	}}
	var b strings.Builder
	if err := Write(&b, pb); err != nil {
		t.Fatal(err)
	}
	k := string(pbKind(t))
	want := "- step: " + k + "\n  timeout: 5s\n  retry: {attempts: 3, backoff: 1s, max-backoff: 4s, budget: 20s}\n  idempotent: true\n- step: " + k + "\n"
	if b.String() != want {
		t.Errorf("Write =\n%s\nwant\n%s", b.String(), want)
	}
}

// pbKind is the first step kind of the first embedded default.
func pbKind(t *testing.T) Kind {
	t.Helper()
	pb, err := Default(Names()[0])
	if err != nil || len(pb.Steps) == 0 {
		t.Fatalf("default %s: %v", Names()[0], err)
	}
	return pb.Steps[0].Kind
}

// withoutLines returns a copy of steps with their source lines cleared.
func withoutLines(steps []Step) []Step {
	out := append([]Step(nil), steps...)
	for i := range out {
		out[i].Line = 0
	}
	return out
}
