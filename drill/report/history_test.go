package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/drill"
)

// drillAt is a history entry of web/vm-stop recovering in rec ms (-1: not).
func drillAt(i int, service string, rec int64) drill.Result {
	r := drill.Result{Service: service, Inject: drill.VMStop, Via: drill.ViaBoth, Verdict: drill.NotRecovered,
		Started: t0.Add(time.Duration(i) * time.Hour)}
	if rec >= 0 {
		r.Verdict, r.RecoveryMS = drill.Recovered, &rec
		d := rec / 2
		r.Phases.Detected = &d
	}
	return r
}

func TestTrendFlagsRegressions(t *testing.T) {
	cases := []struct {
		name    string
		recs    []int64 // recovery ms of web's drills, oldest first; -1 not recovered
		flagged []bool
	}{
		{"too few to judge", []int64{1000, 5000}, []bool{false, false}},
		{"steady", []int64{1000, 1100, 900, 1000, 1200}, []bool{false, false, false, false, false}},
		{"slower than 1.5x the median", []int64{1000, 1100, 900, 1000, 1600}, []bool{false, false, false, false, true}},
		{"exactly 1.5x is not a regression", []int64{1000, 1000, 1000, 1500}, []bool{false, false, false, false}},
		{"not recovered after recoveries", []int64{1000, 1000, 1000, -1}, []bool{false, false, false, true}},
		{"only the last five count", []int64{100, 100, 100, 2000, 2000, 2000, 2000, 2000, 2100}, []bool{false, false, false, true, true, true, false, false, false}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var h []drill.Result
			for i, rec := range tc.recs {
				h = append(h, drillAt(i, "web", rec))
				h = append(h, drillAt(i, "api", 99999)) // another service never counts
			}
			rows := Trend(h)
			var got []bool
			for _, r := range rows {
				if r.Service == "web" {
					got = append(got, r.Regression != "")
				} else if r.Regression != "" && r.MedianMS != nil && *r.MedianMS != 99999 {
					t.Errorf("api compared with other services: %+v", r)
				}
			}
			for i := range tc.flagged {
				if got[i] != tc.flagged[i] {
					t.Errorf("drill %d (%d ms): flagged %v, want %v", i, tc.recs[i], got[i], tc.flagged[i])
				}
			}
		})
	}
}

func TestHistoryRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", HistoryFile)
	if h, err := ReadHistory(path); err != nil || len(h) != 0 {
		t.Fatalf("missing history: %v, %v; want empty", h, err)
	}
	want := []*drill.Result{fixtureResult(), notRecovered()}
	for _, r := range want {
		if err := AppendHistory(path, r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ReadHistory(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Service != "web" || got[1].Verdict != drill.NotRecovered ||
		*got[0].RecoveryMS != *want[0].RecoveryMS || got[0].Requests != want[0].Requests {
		t.Errorf("read back %+v", got)
	}
	if err := os.WriteFile(path, []byte("{\"service\": \"web\"}\nnot json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadHistory(path); err == nil || !strings.Contains(err.Error(), ":2:") {
		t.Errorf("ReadHistory of a bad line = %v, want an error naming line 2", err)
	}
}

func TestTrendGolden(t *testing.T) {
	var h []drill.Result
	for i, rec := range []int64{1000, 1100, 900, 1050, 1700, -1} {
		h = append(h, drillAt(i, "web", rec))
	}
	var b bytes.Buffer
	if err := WriteTrend(&b, Trend(h)); err != nil {
		t.Fatal(err)
	}
	golden(t, "trend.txt", b.Bytes())
	if n := strings.Count(b.String(), "REGRESSION"); n != 2 {
		t.Errorf("%d regressions flagged, want 2:\n%s", n, b.String())
	}
}
