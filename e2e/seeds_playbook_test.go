package e2e

import (
	"slices"
	"testing"

	"github.com/understudy/understudy/playbooks"
)

// TestSeedsBaselinePlaybook: the seeds benchmarks' baseline playbook
// parses, keeps the cold default's confirm and fence before its exec step,
// and carries the argv whole (quoted, spaces and all).
func TestSeedsBaselinePlaybook(t *testing.T) {
	argv := []string{"/bin/bash", "/repo/bench/seeds-vm-standby.sh", "restore", "spare-1", "/a dir/b.tar", "t-seeds-vm-a-vm"}
	pb, err := playbooks.Parse("baseline.yaml", []byte(seedsBaselinePlaybook(argv)))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	var kinds []string
	for _, st := range pb.Steps {
		kinds = append(kinds, string(st.Kind))
		if st.Kind == "exec" && !slices.Equal(st.Command, argv) {
			t.Errorf("exec command = %q, want %q", st.Command, argv)
		}
	}
	if want := []string{"confirm", "fence", "exec", "activate", "wait-healthy"}; !slices.Equal(kinds, want) {
		t.Errorf("steps = %v, want %v", kinds, want)
	}
}
