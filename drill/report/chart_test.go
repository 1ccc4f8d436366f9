package report

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// AppendHistory keeps each drill's chart, with its requests, beside the
// history; ReadChart returns it, and draws one from the history line for a
// drill whose chart was not kept.
func TestHistoryKeepsCharts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", HistoryFile)
	r := fixtureResult()
	if err := AppendHistory(path, r); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := WriteSVG(&want, r); err != nil {
		t.Fatal(err)
	}
	h, err := ReadHistory(path)
	if err != nil || len(h) != 1 {
		t.Fatalf("history %v, %v", h, err)
	}
	got, err := ReadChart(path, &h[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("kept chart differs from WriteSVG of the drill (%d bytes, want %d)", len(got), len(want.Bytes()))
	}
	if !bytes.Contains(got, []byte(`class="lane"`)) || bytes.Count(got, []byte("<rect")) < 10 {
		t.Errorf("kept chart lacks the requests:\n%s", got)
	}

	old := notRecovered() // appended before charts were kept: none on disk
	drawn, err := ReadChart(path, old)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(drawn, []byte("<svg")) || !bytes.Contains(drawn, []byte(old.Service)) {
		t.Errorf("drawn chart:\n%s", drawn)
	}
}

func TestChartPathRefusesPaths(t *testing.T) {
	for _, id := range []string{"", "../x", "a/b", ".hidden", `a\b`} {
		if _, err := ChartPath("/s/drills.jsonl", id); !errors.Is(err, ErrBadID) {
			t.Errorf("ChartPath(%q) = %v, want ErrBadID", id, err)
		}
	}
	r := fixtureResult()
	p, err := ChartPath("/s/drills.jsonl", ID(r))
	if err != nil || p != "/s/drills/"+ID(r)+".svg" {
		t.Errorf("ChartPath(ID) = %q, %v", p, err)
	}
	if ID(r) != "20261127T080000.000Z-web-vm-stop" {
		t.Errorf("ID = %q", ID(r))
	}
}

// A chart that cannot be saved (here its directory is a file) fails
// AppendHistory with ErrChartNotSaved only after the drill's line was
// written: the history holds it.
func TestAppendHistoryChartNotSaved(t *testing.T) {
	path := filepath.Join(t.TempDir(), HistoryFile)
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), ChartDir), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := AppendHistory(path, fixtureResult())
	if !errors.Is(err, ErrChartNotSaved) {
		t.Fatalf("err = %v, want ErrChartNotSaved", err)
	}
	h, rerr := ReadHistory(path)
	if rerr != nil || len(h) != 1 {
		t.Errorf("history after a chart failure: %d drills, %v; want the one drill", len(h), rerr)
	}
}
