package drillsource

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/drill"
	"github.com/understudy/understudy/drill/report"
	"github.com/understudy/understudy/monitor/statuspage"
)

func drillAt(i int, rec int64) *drill.Result {
	return &drill.Result{Service: "web", Inject: drill.VMStop, Via: drill.ViaDNS, Verdict: drill.Recovered,
		Started: time.Date(2026, 12, 1, 8, i, 0, 0, time.UTC), RecoveryMS: &rec}
}

func TestHistory(t *testing.T) {
	path := filepath.Join(t.TempDir(), report.HistoryFile)
	h := History{Path: path}
	ctx := context.Background()
	if ds, err := h.Drills(ctx); err != nil || len(ds) != 0 {
		t.Fatalf("no history yet: %v, %v", ds, err)
	}
	for i, rec := range []int64{1000, 1000, 1000, 2000} {
		if err := report.AppendHistory(path, drillAt(i, rec)); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := h.Drills(ctx)
	if err != nil || len(ds) != 4 {
		t.Fatalf("drills %v, %v", ds, err)
	}
	last := ds[3]
	var r drill.Result
	if err := json.Unmarshal(last.Result, &r); err != nil || *r.RecoveryMS != 2000 {
		t.Errorf("last drill's result %s: %v", last.Result, err)
	}
	if last.ID != report.ID(drillAt(3, 0)) || last.Regression == "" || *last.MedianMS != 1000 || ds[0].Regression != "" {
		t.Errorf("trend: %+v, first %+v", last, ds[0])
	}
	svg, err := h.Chart(ctx, last.ID)
	if err != nil || !strings.HasPrefix(string(svg), "<svg") || !strings.Contains(string(svg), "2000 ms") {
		t.Errorf("chart: %v\n%s", err, svg)
	}
	if _, err := h.Chart(ctx, "20991231T000000.000Z-web-vm-stop"); !errors.Is(err, statuspage.ErrNoDrill) {
		t.Errorf("chart of an unknown drill: %v, want ErrNoDrill", err)
	}
}
