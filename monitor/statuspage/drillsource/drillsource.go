// Package drillsource gives the status page (package statuspage) the drill
// history of a history file (report.ReadHistory) and each drill's chart
// (report.ReadChart). It is apart from statuspage because the monitor,
// which serves the page, cannot import package drill (drill's lab tests
// run a monitor); the command wires it in (monitor.Options.Drills).
package drillsource

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/understudy/understudy/drill/report"
	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/monitor/statuspage"
)

// History is the drill history in the file at Path (report.HistoryPath of
// monitor.state-dir: where `understudy drill` appends by default). It
// reads the file at every call: drills are appended by another process.
type History struct{ Path string }

// Drills returns every drill, oldest first, with its regression flags.
func (h History) Drills(ctx context.Context) ([]api.Drill, error) {
	rows, err := h.read(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.Drill, 0, len(rows))
	for i := range rows {
		raw, err := json.Marshal(&rows[i].Result)
		if err != nil {
			return nil, fmt.Errorf("encode drill %s: %w", report.ID(&rows[i].Result), err)
		}
		out = append(out, api.Drill{ID: report.ID(&rows[i].Result), Result: raw,
			MedianMS: rows[i].MedianMS, Regression: rows[i].Regression})
	}
	return out, nil
}

// Chart returns the chart of the drill with id: the one kept beside the
// history, or one drawn from its history line.
func (h History) Chart(ctx context.Context, id string) ([]byte, error) {
	rows, err := h.read(ctx)
	if err != nil {
		return nil, err
	}
	for i := len(rows) - 1; i >= 0; i-- {
		if report.ID(&rows[i].Result) == id {
			return report.ReadChart(h.Path, &rows[i].Result)
		}
	}
	return nil, fmt.Errorf("drill %q: %w", id, statuspage.ErrNoDrill)
}

func (h History) read(ctx context.Context) ([]report.TrendRow, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	hist, err := report.ReadHistory(h.Path)
	if err != nil {
		return nil, fmt.Errorf("read the drill history: %w", err)
	}
	return report.Trend(hist), nil
}
