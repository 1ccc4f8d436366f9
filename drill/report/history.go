package report

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/understudy/understudy/drill"
)

// HistoryFile is the name of the drill history under monitor.state-dir.
const HistoryFile = "drills.jsonl"

// HistoryPath is the history file of a monitor's state directory.
func HistoryPath(stateDir string) string { return filepath.Join(stateDir, HistoryFile) }

// ErrChartNotSaved: AppendHistory recorded the drill in the history, but
// could not keep its chart beside it (ReadChart then draws one from the
// history line, without the requests).
var ErrChartNotSaved = errors.New("the drill is in the history, but its chart was not saved")

// AppendHistory appends r as one JSON line to the file at path, creating it
// (and its directory) when missing, and keeps its chart beside it
// (ChartPath). An error that matches ErrChartNotSaved means the line was
// written and only the chart is missing.
func AppendHistory(path string, r *drill.Result) error {
	if err := appendLine(path, r); err != nil {
		return err
	}
	if err := saveChart(path, r); err != nil {
		return fmt.Errorf("%w: %w", ErrChartNotSaved, err)
	}
	return nil
}

// errorsIsChart reports whether err only says a chart was not saved.
func errorsIsChart(err error) bool { return errors.Is(err, ErrChartNotSaved) }

// appendLine appends r as one JSON line to the history file at path.
func appendLine(path string, r *drill.Result) error {
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode the drill: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create the history directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("open the history: %w", err)
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("append to the history: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("append to the history: %w", err)
	}
	return nil
}

// ReadHistory reads every drill of the history file at path, oldest first.
// A missing file is an empty history; a line that does not decode is an
// error naming its line number.
func ReadHistory(path string) ([]drill.Result, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open the history: %w", err)
	}
	defer f.Close()
	var out []drill.Result
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for n := 1; sc.Scan(); n++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var r drill.Result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read the history: %w", err)
	}
	return out, nil
}

// Regression thresholds: a drill regresses when its recovery took longer
// than RegressionFactor times the median of the last RegressionWindow drills
// of the same service and kind (at least RegressionMin of them), or when it
// did not recover while they did.
const (
	RegressionFactor = 1.5
	RegressionWindow = 5
	RegressionMin    = 3
)

// TrendRow is one drill of the history with its comparison to the drills
// before it.
type TrendRow struct {
	drill.Result
	// MedianMS is the median recovery of the up to five drills before (of
	// the same service and kind that recovered); nil without enough of them.
	MedianMS *int64
	// Regression says why this drill is a regression, "" when it is not.
	Regression string
}

// Trend compares each drill with the last five of the same service and
// kind, and of the same scope: a service's results from host drills (Host
// set) only with that service's results from host drills of the same host.
func Trend(history []drill.Result) []TrendRow {
	out := make([]TrendRow, 0, len(history))
	for i, r := range history {
		row := TrendRow{Result: r}
		var before []int64
		recoveredBefore := 0
		for j := i - 1; j >= 0 && len(before) < RegressionWindow; j-- {
			p := history[j]
			if p.Service != r.Service || p.Inject != r.Inject || p.Host != r.Host {
				continue
			}
			if p.RecoveryMS != nil {
				before = append(before, *p.RecoveryMS)
				recoveredBefore++
			}
		}
		if len(before) >= RegressionMin {
			m := median(before)
			row.MedianMS = &m
			switch {
			case r.RecoveryMS == nil:
				row.Regression = fmt.Sprintf("did not recover; the last %d did (median %d ms)", recoveredBefore, m)
			case float64(*r.RecoveryMS) > RegressionFactor*float64(m):
				row.Regression = fmt.Sprintf("%d ms > %.1f × median %d ms of the last %d", *r.RecoveryMS, RegressionFactor, m, len(before))
			}
		}
		out = append(out, row)
	}
	return out
}

func median(v []int64) int64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// WriteTrend writes the history as a table, oldest first, with the
// regressions flagged, and a last line counting them.
func WriteTrend(w io.Writer, rows []TrendRow) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%-20s %-12s %-13s %-6s %-13s %8s %8s %8s %8s %8s %7s %9s  %s\n",
		"time (UTC)", "service", "inject", "via", "verdict", "detect", "activate", "dns", "recovery", "median5", "dns err", "proxy err", "regression")
	regressions := 0
	for _, r := range rows {
		flag := ""
		if r.Regression != "" {
			flag = "REGRESSION: " + r.Regression
			regressions++
		}
		fmt.Fprintf(&b, "%-20s %-12s %-13s %-6s %-13s %8s %8s %8s %8s %8s %7d %9d  %s\n",
			r.Started.UTC().Format(time.DateTime), r.Service, r.Inject, r.Via, r.Verdict,
			msText(r.Phases.Detected), msText(r.Phases.Activated), msText(r.Phases.DNSFlipped),
			msText(r.RecoveryMS), msText(r.MedianMS), r.Requests.DNS.Failed, r.Requests.Proxy.Failed, flag)
	}
	fmt.Fprintf(&b, "%d drills, %d regressions (recovery > %.1f × the median of the last %d of the same service and kind)\n",
		len(rows), regressions, RegressionFactor, RegressionWindow)
	_, err := io.WriteString(w, b.String())
	return err
}

func msText(p *int64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprint(*p)
}
