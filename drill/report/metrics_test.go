package report

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/understudy/understudy/drill"
)

// The collector exports the latest drill of each service: web's last one
// regressed (1600 ms > 1.5 × 1000), api's did not; it follows the file as
// drills are appended.
func TestHistoryCollector(t *testing.T) {
	path := filepath.Join(t.TempDir(), HistoryFile)
	h := NewHistoryCollector(func() string { return path })
	if n := testutil.CollectAndCount(h); n != 0 {
		t.Fatalf("no history: %d series, want 0", n)
	}
	for i, rec := range []int64{1000, 1100, 900, 1000, 1600} {
		for _, r := range []drill.Result{drillAt(i, "web", rec), drillAt(i, "api", 1000)} {
			if err := AppendHistory(path, &r); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := `# HELP understudy_drill_regression 1 when the latest drill of the service and fault kind regressed (recovery over 1.5 × the median of the 5 before, or no recovery where they recovered), else 0.
# TYPE understudy_drill_regression gauge
understudy_drill_regression{inject="vm-stop",service="api"} 0
understudy_drill_regression{inject="vm-stop",service="web"} 1
# HELP understudy_drill_last_recovery_seconds Recovery time of the latest drill of the service and fault kind; no series when it did not recover.
# TYPE understudy_drill_last_recovery_seconds gauge
understudy_drill_last_recovery_seconds{inject="vm-stop",service="api"} 1
understudy_drill_last_recovery_seconds{inject="vm-stop",service="web"} 1.6
`
	if err := testutil.CollectAndCompare(h, strings.NewReader(want), "understudy_drill_regression", "understudy_drill_last_recovery_seconds"); err != nil {
		t.Error(err)
	}
	r := drillAt(5, "web", -1)
	if err := AppendHistory(path, &r); err != nil {
		t.Fatal(err)
	}
	if err := testutil.CollectAndCompare(h, strings.NewReader(`# HELP understudy_drill_last_recovery_seconds Recovery time of the latest drill of the service and fault kind; no series when it did not recover.
# TYPE understudy_drill_last_recovery_seconds gauge
understudy_drill_last_recovery_seconds{inject="vm-stop",service="api"} 1
`), "understudy_drill_last_recovery_seconds"); err != nil {
		t.Errorf("after web's failed drill: %v", err)
	}
	if problems, err := testutil.CollectAndLint(h); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}
