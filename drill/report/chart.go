package report

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/understudy/understudy/drill"
)

// ChartDir is the directory of drill charts beside a history file: each
// drill appended to HISTORY keeps its SVG chart (WriteSVG, with every
// request of its load) in HISTORY's directory under ChartDir/ID.svg.
const ChartDir = "drills"

// ErrBadID: a drill ID that ID could not have made (a path, or empty).
var ErrBadID = errors.New("not a drill ID")

// ID names a drill within its history: its start (UTC, to the millisecond),
// service and inject kind, e.g. 20261201T221704.123Z-web-vm-stop. It is a
// valid file name and URL path segment.
func ID(r *drill.Result) string {
	id := r.Started.UTC().Format("20060102T150405.000Z") + "-" + r.Service + "-" + string(r.Inject)
	return strings.Map(func(c rune) rune {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.', c == '_':
			return c
		}
		return '_'
	}, id)
}

// ChartPath is where the chart of the drill with id is kept beside the
// history file at historyPath.
func ChartPath(historyPath, id string) (string, error) {
	if id == "" || id != filepath.Base(id) || strings.ContainsAny(id, `/\`) || strings.HasPrefix(id, ".") {
		return "", fmt.Errorf("chart %q: %w", id, ErrBadID)
	}
	return filepath.Join(filepath.Dir(historyPath), ChartDir, id+".svg"), nil
}

// saveChart writes r's chart beside the history file at historyPath.
func saveChart(historyPath string, r *drill.Result) error {
	return saveChartWith(historyPath, ID(r), func(w io.Writer) error { return WriteSVG(w, r) })
}

// saveChartWith writes the chart draw draws as the chart of the drill id
// beside the history file at historyPath.
func saveChartWith(historyPath, id string, draw func(io.Writer) error) error {
	p, err := ChartPath(historyPath, id)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := draw(&b); err != nil {
		return fmt.Errorf("draw the chart: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("create the chart directory: %w", err)
	}
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write the chart: %w", err)
	}
	return nil
}

// ReadChart returns the chart of the drill r of the history file at
// historyPath: the one kept when it was appended, or, for a drill appended
// before charts were kept, one drawn from its history line (its phases,
// without the requests, which the history does not keep).
func ReadChart(historyPath string, r *drill.Result) ([]byte, error) {
	p, err := ChartPath(historyPath, ID(r))
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if err == nil {
		return b, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read the chart: %w", err)
	}
	var out bytes.Buffer
	if err := WriteSVG(&out, r); err != nil {
		return nil, fmt.Errorf("draw the chart: %w", err)
	}
	return out.Bytes(), nil
}
