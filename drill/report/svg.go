package report

import (
	"fmt"
	"html"
	"io"
	"strings"

	"github.com/understudy/understudy/drill"
)

// SVG geometry, in pixels.
const (
	svgWidth   = 1000
	svgLeft    = 110 // room for the lane labels
	svgRight   = 30
	svgTop     = 44 // below the title
	svgLabelH  = 16 // one row of phase labels
	svgRowH    = 7  // one client's row in a lane
	svgLaneGap = 26
	svgCharW   = 6.6 // approximate width of one character at 11px
)

// The chart's colours.
const (
	colPrimary = "#43a047" // answered by the primary
	colNew     = "#1e88e5" // answered by the standby
	colFailed  = "#e53935" // failed
	colOutage  = "#fdecea" // a lane before its first answer from the standby
	colMarker  = "#555555"
)

// WriteSVG draws the drill as a timeline chart: one lane per client path
// with one row per client, each request a bar from its start to its answer,
// coloured by outcome; a dashed marker with its label for every phase; the
// time axis in ms from the injection; a legend.
func WriteSVG(w io.Writer, r *drill.Result) error {
	from, to := span(r)
	clients := max(r.Load, 1)
	for _, s := range r.Samples {
		clients = max(clients, s.Client+1)
	}
	var lanes []lane
	for _, path := range r.Via.Paths() {
		first, name, c := r.Phases.FirstSuccessDNS, "via DNS", r.Requests.DNS
		if path == drill.PathProxy {
			first, name, c = r.Phases.FirstSuccessProxy, "via proxy", r.Requests.Proxy
		}
		lanes = append(lanes, lane{
			id: path, name: name, sub: fmt.Sprintf("%d ok, %d failed", c.OK, c.Failed),
			first: first, rows: clients, res: r,
			row: func(s drill.Sample) (int, bool) { return s.Client, s.Path == path },
		})
	}
	return writeChart(w, title(r), lanes, happened(r), from, to)
}

// lane is one band of the chart: the requests of one result that row
// places (a row per client, and per path in a host drill's lanes), the
// part before its first answer from the standby shaded.
type lane struct {
	id, name, sub string
	first         *int64
	rows, minH    int // rows of requests; the lane's least height in px
	res           *drill.Result
	row           func(drill.Sample) (int, bool)
}

// writeChart draws the lanes under the phase marks, the time axis from
// from to to ms and the legend: the one drawing of WriteSVG and WriteHostSVG.
func writeChart(w io.Writer, headline string, lanes []lane, marks []mark, from, to int64) error {
	var b strings.Builder
	plotW := float64(svgWidth - svgLeft - svgRight)
	x := func(ms int64) float64 { return svgLeft + plotW*float64(ms-from)/float64(to-from) }
	rows := labelRows(marks, x)
	nrows := 1
	for _, row := range rows {
		nrows = max(nrows, row+1)
	}
	lanesTop := svgTop + nrows*svgLabelH + 8
	lanesBottom := lanesTop
	for i, l := range lanes {
		if i > 0 {
			lanesBottom += svgLaneGap
		}
		lanesBottom += laneHeight(l)
	}
	height := lanesBottom + 80

	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n",
		svgWidth, height, svgWidth, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", svgWidth, height)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", svgLeft-100, esc(headline))
	top := lanesTop
	for _, l := range lanes {
		drawLane(&b, l, top, laneHeight(l), x, to)
		top += laneHeight(l) + svgLaneGap
	}
	drawMarks(&b, marks, rows, x, lanesBottom)
	drawAxis(&b, from, to, x, lanesBottom)
	drawLegend(&b, lanesBottom+48)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// laneHeight is a lane's height: its rows, at least minH.
func laneHeight(l lane) int { return max(l.rows*svgRowH+4, l.minH) }

func esc(s string) string { return html.EscapeString(s) }

// title is the chart's headline.
func title(r *drill.Result) string {
	mode := ""
	if r.Mode != "" {
		mode = " (" + r.Mode + ")"
	}
	v := r.Verdict
	if r.RecoveryMS != nil {
		v = fmt.Sprintf("%s in %d ms", v, *r.RecoveryMS)
	}
	return fmt.Sprintf("drill %s%s · %s · via %s · %d clients per path · %s", r.Service, mode, r.Inject, r.Via, r.Load, v)
}

// labelSpan is where a phase label at marker x goes: right of the marker,
// or left of it near the chart's right edge (end reports that).
func labelSpan(m mark, lx float64) (left, right float64, end bool) {
	wid := float64(len(markText(m))) * svgCharW
	if lx+2+wid > svgWidth-4 {
		return lx - 2 - wid, lx - 2, true
	}
	return lx + 2, lx + 2 + wid, false
}

// labelRows gives each phase label a row so labels do not overlap.
func labelRows(marks []mark, x func(int64) float64) []int {
	var ends []float64 // the right end of the last label per row
	rows := make([]int, len(marks))
	for i, m := range marks {
		left, right, _ := labelSpan(m, x(*m.MS))
		row := 0
		for row < len(ends) && ends[row] > left-4 {
			row++
		}
		if row == len(ends) {
			ends = append(ends, 0)
		}
		ends[row] = right
		rows[i] = row
	}
	return rows
}

func markText(m mark) string { return fmt.Sprintf("%s %d ms", m.Label, *m.MS) }

// drawLane draws one lane's requests.
func drawLane(b *strings.Builder, l lane, top, h int, x func(int64) float64, to int64) {
	fmt.Fprintf(b, `<g class="lane" id="lane-%s">`+"\n", esc(l.id))
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#fafafa" stroke="#dddddd"/>`+"\n",
		svgLeft, top, svgWidth-svgLeft-svgRight, h)
	end := to
	if l.first != nil {
		end = *l.first
	}
	if end > 0 {
		fmt.Fprintf(b, `<rect class="outage" x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n",
			x(0), top, x(end)-x(0), h, colOutage)
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", svgLeft-100, top+h/2, esc(l.name))
	fmt.Fprintf(b, `<text x="%d" y="%d" fill="#555555">%s</text>`+"\n", svgLeft-100, top+h/2+14, esc(l.sub))
	for _, s := range l.res.Samples {
		row, ok := l.row(s)
		if !ok {
			continue
		}
		start := s.Start.Sub(l.res.Started).Milliseconds()
		x0, x1 := x(start), x(start+s.Duration.Milliseconds())
		col := colPrimary
		switch classOf(s) {
		case classFailed:
			col = colFailed
		case classNew:
			col = colNew
		}
		fmt.Fprintf(b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n",
			x0, top+2+row*svgRowH, max(x1-x0, 1.2), svgRowH-2, col)
	}
	b.WriteString("</g>\n")
}

// drawMarks draws the phase markers and their labels.
func drawMarks(b *strings.Builder, marks []mark, rows []int, x func(int64) float64, lanesBottom int) {
	for i, m := range marks {
		lx := x(*m.MS)
		ly := svgTop + rows[i]*svgLabelH + 10
		width := "1"
		if m.Key == "I" {
			width = "2"
		}
		fmt.Fprintf(b, `<g class="phase" id="phase-%s">`, strings.ReplaceAll(m.Label, " ", "-"))
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-width="%s" stroke-dasharray="4 3"/>`,
			lx, ly+3, lx, lanesBottom, colMarker, width)
		left, right, end := labelSpan(m, lx)
		if end {
			fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="end" fill="#222222" stroke="white" stroke-width="3" paint-order="stroke">%s</text></g>`+"\n", right, ly, esc(markText(m)))
		} else {
			fmt.Fprintf(b, `<text x="%.1f" y="%d" fill="#222222" stroke="white" stroke-width="3" paint-order="stroke">%s</text></g>`+"\n", left, ly, esc(markText(m)))
		}
	}
}

// drawAxis draws the time axis with ticks at a round step.
func drawAxis(b *strings.Builder, from, to int64, x func(int64) float64, y int) {
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333333"/>`+"\n", svgLeft, y+4, svgWidth-svgRight, y+4)
	step := tickStep(to - from)
	for t := (from / step) * step; t <= to; t += step {
		if t < from {
			continue
		}
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#333333"/>`, x(t), y+4, x(t), y+9)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%d</text>`+"\n", x(t), y+21, t)
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="end" fill="#555555">ms after the injection</text>`+"\n", svgWidth-svgRight, y+34)
}

// tickStep is a round step giving at most about ten ticks over span ms.
func tickStep(span int64) int64 {
	for _, s := range []int64{10, 20, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000, 20000, 30000, 60000} {
		if span/s <= 10 {
			return s
		}
	}
	return 120000
}

// drawLegend explains the colours.
func drawLegend(b *strings.Builder, y int) {
	items := []struct{ col, text string }{
		{colPrimary, "answered by the primary"},
		{colNew, "answered by the standby"},
		{colFailed, "failed"},
		{colOutage, "until the path's first answer from the standby"},
	}
	lx := svgLeft
	for _, it := range items {
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="14" height="10" fill="%s" stroke="#999999"/>`, lx, y-9, it.col)
		fmt.Fprintf(b, `<text x="%d" y="%d">%s</text>`+"\n", lx+19, y, esc(it.text))
		lx += 19 + int(float64(len(it.text))*svgCharW) + 22
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" fill="#555555">each row is one client; each bar one request, from its start to its answer</text>`+"\n", svgLeft, y+18)
}
