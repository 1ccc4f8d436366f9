package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/understudy/understudy/drill"
)

// TestWriteOutputs: the text report goes to stdout unless the JSON does;
// the JSON and the SVG go to their files.
func TestWriteOutputs(t *testing.T) {
	res := fixtureResult()
	dir := t.TempDir()
	jsonPath, svgPath := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.svg")
	var stdout bytes.Buffer
	if err := WriteOutputs(&stdout, res, jsonPath, svgPath); err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if err := WriteReport(&text, res); err != nil {
		t.Fatal(err)
	}
	if stdout.String() != text.String() {
		t.Errorf("stdout is not the text report:\n%s", stdout.String())
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil || !json.Valid(b) {
		t.Errorf("JSON file: %v, valid %v", err, json.Valid(b))
	}
	if b, err := os.ReadFile(svgPath); err != nil || !strings.Contains(string(b), "<svg") {
		t.Errorf("SVG file: %v, %.40q", err, b)
	}

	stdout.Reset()
	if err := WriteOutputs(&stdout, res, "-", ""); err != nil {
		t.Fatal(err)
	}
	if !json.Valid(stdout.Bytes()) {
		t.Errorf("--json - writes more than the JSON:\n%s", stdout.String())
	}
	if err := WriteOutputs(&stdout, res, filepath.Join(dir, "absent", "r.json"), ""); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}

func TestOfService(t *testing.T) {
	h := []drill.Result{{Service: "a", Inject: "vm-stop"}, {Service: "b"}, {Service: "a", Inject: "blackhole"}}
	got := OfService(h, "a")
	if len(got) != 2 || got[0].Inject != "vm-stop" || got[1].Inject != "blackhole" {
		t.Errorf("OfService = %+v", got)
	}
	if got := OfService(h, "c"); len(got) != 0 {
		t.Errorf("OfService(c) = %+v", got)
	}
}
