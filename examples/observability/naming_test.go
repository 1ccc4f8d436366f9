package observability

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// oldMetricRE matches the metric names retired by the renames of the
// README's migration table.
var oldMetricRE = regexp.MustCompile(`understudy_controller_|understudy_monitor_probe_|understudy_[a-z_]*_percent\b`)

// No non-test Go file of the repository names a metric by an old name
// (understudy_controller_*, understudy_monitor_probe_*, a *_percent
// unit): every metric registered or exported is built from such literals.
func TestNoOldMetricNames(t *testing.T) {
	root := filepath.Join("..", "..")
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		for i, line := range bytes.Split(b, []byte("\n")) {
			if m := oldMetricRE.Find(line); m != nil {
				t.Errorf("%s:%d: old metric name %s... (see README.md's migration table)", path, i+1, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 100 {
		t.Errorf("%d Go files read, want the repository's", n)
	}
}
