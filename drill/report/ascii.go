package report

import (
	"fmt"
	"strings"

	"github.com/understudy/understudy/drill"
)

// The characters of the ASCII timeline.
const (
	chPrimary = '.' // every request of the column answered by the primary
	chNew     = '#' // answered by the standby (the new backend)
	chFailed  = 'x' // every request failed
	chMixed   = '!' // some answered, some failed
)

// span returns the first and last ms of the timeline (the first request's
// start, at most 0; the end of the last request, at least 1).
func span(r *drill.Result) (from, to int64) {
	t0 := r.Started
	for _, s := range r.Samples {
		from = min(from, s.Start.Sub(t0).Milliseconds())
	}
	to = max(r.EndMS, 1)
	for _, m := range marks(r) {
		if m.MS != nil {
			to = max(to, *m.MS)
		}
	}
	return from, to
}

// writeASCII writes the timeline in width columns: a row of phase letters,
// one row per path and a legend.
func writeASCII(b *strings.Builder, r *drill.Result, width int) {
	from, to := span(r)
	per := max((to-from+int64(width)-1)/int64(width), 1)
	col := func(ms int64) int { return min(int((ms-from)/per), width-1) }
	fmt.Fprintf(b, "timeline: one column = %d ms, from %d to %d ms after the injection\n", per, from, to)

	// Phases that fall into a taken column go to the next row (three at most).
	var rows [][]byte
	for _, m := range happened(r) {
		c := col(*m.MS)
		i := 0
		for i < len(rows) && rows[i][c] != ' ' {
			i++
		}
		if i == 3 {
			continue
		}
		if i == len(rows) {
			rows = append(rows, []byte(strings.Repeat(" ", width)))
		}
		rows[i][c] = m.Key[0]
	}
	for i, row := range rows {
		label := "phases"
		if i > 0 {
			label = ""
		}
		fmt.Fprintf(b, "%-8s|%s|\n", label, row)
	}

	for _, path := range r.Via.Paths() {
		ok := make([]int, width)
		fresh := make([]int, width)
		failed := make([]int, width)
		for _, s := range r.Samples {
			if s.Path != path {
				continue
			}
			c := col(s.Start.Sub(r.Started).Milliseconds())
			switch classOf(s) {
			case classFailed:
				failed[c]++
			case classNew:
				fresh[c]++
			default:
				ok[c]++
			}
		}
		row := make([]byte, width)
		for i := range row {
			switch {
			case failed[i] > 0 && ok[i]+fresh[i] > 0:
				row[i] = chMixed
			case failed[i] > 0:
				row[i] = chFailed
			case fresh[i] > 0:
				row[i] = chNew
			case ok[i] > 0:
				row[i] = chPrimary
			default:
				row[i] = ' '
			}
		}
		fmt.Fprintf(b, "%-8s|%s|\n", path, row)
	}
	fmt.Fprintf(b, "%-8s %s\n", "ms", axis(width, col, from, to))
	fmt.Fprintf(b, "requests by start: %c primary answered  %c standby answered  %c failed  %c both  (blank: none started)\n",
		chPrimary, chNew, chFailed, chMixed)
	var keys []string
	for _, m := range happened(r) {
		keys = append(keys, m.Key+" "+m.Label)
	}
	fmt.Fprintf(b, "phases: %s\n", strings.Join(keys, ", "))
}

// axis is the row of labels under the timeline: the first ms at the left,
// 0 under the injection and the last ms at the right.
func axis(width int, col func(int64) int, from, to int64) string {
	row := []byte(strings.Repeat(" ", width+2))
	put := func(at int, s string) {
		at = max(0, min(at, len(row)-len(s)))
		copy(row[at:], s)
	}
	put(0, fmt.Sprint(from))
	if from < 0 {
		put(col(0)+1, "0")
	}
	put(len(row)-len(fmt.Sprint(to)), fmt.Sprint(to))
	return strings.TrimRight(string(row), " ")
}
