package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/understudy/understudy/drill"
)

// WriteJSON writes the result as one indented JSON object.
func WriteJSON(w io.Writer, r *drill.Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteReport writes the readable report: headline and verdict, the phases
// table (ms from the injection and since the phase before), the requests per
// path, an ASCII timeline and the notes.
func WriteReport(w io.Writer, r *drill.Result) error {
	var b strings.Builder
	mode := ""
	if r.Mode != "" {
		mode = " (" + r.Mode + ")"
	}
	fmt.Fprintf(&b, "drill %s%s: inject %s, via %s, %d clients per path, %s\n",
		r.Service, mode, r.Inject, r.Via, r.Load, r.Started.UTC().Format(time.RFC3339))
	if r.RecoveryMS != nil {
		fmt.Fprintf(&b, "verdict: %s in %d ms (every client path served by the standby again)\n", strings.ToUpper(r.Verdict), *r.RecoveryMS)
	} else {
		fmt.Fprintf(&b, "verdict: %s\n", strings.ToUpper(r.Verdict))
	}
	if r.Incident != "" {
		fmt.Fprintf(&b, "incident: %s, %s\n", r.Incident, cmp.Or(r.IncidentResult, "still open"))
	}
	b.WriteString("\n")
	writePhases(&b, r)
	b.WriteString("\n")
	writeRequests(&b, r)
	b.WriteString("\n")
	writeASCII(&b, r, 64)
	writeMarker(&b, r.Marker)
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeMarker says whether the standby served the --marker file, and from
// how old a copy.
func writeMarker(b *strings.Builder, m *drill.MarkerResult) {
	if m == nil {
		return
	}
	switch {
	case m.Error != "":
		fmt.Fprintf(b, "marker %s: %s\n", m.Path, m.Error)
	case m.Served:
		fmt.Fprintf(b, "marker %s: served by the standby", m.Path)
	default:
		fmt.Fprintf(b, "marker %s: NOT served by the standby (%s)", m.Path, m.Body)
	}
	if m.Error == "" {
		if m.Copy != "" {
			fmt.Fprintf(b, "; %s", m.Copy)
		}
		b.WriteString("\n")
	}
}

// writePhases writes the phases table in time order, then the phases that
// did not happen.
func writePhases(b *strings.Builder, r *drill.Result) {
	fmt.Fprintf(b, "%-24s %7s %7s\n", "phase", "at ms", "+ms")
	var prev int64
	for i, m := range happened(r) {
		step := ""
		if i > 0 {
			step = fmt.Sprint(*m.MS - prev)
		}
		fmt.Fprintln(b, strings.TrimRight(fmt.Sprintf("%-24s %7d %7s", m.Label, *m.MS, step), " "))
		prev = *m.MS
	}
	for _, m := range marks(r) {
		if m.MS == nil {
			fmt.Fprintf(b, "%-24s %7s\n", m.Label, "-")
		}
	}
}

// writeRequests writes the requests per path: answers, failures, the
// failures after the injection and the slowest answer.
func writeRequests(b *strings.Builder, r *drill.Result) {
	fmt.Fprintf(b, "%-8s %7s %7s %11s %11s\n", "requests", "ok", "failed", "by standby", "slowest ms")
	for _, path := range r.Via.Paths() {
		c := r.Requests.DNS
		if path == drill.PathProxy {
			c = r.Requests.Proxy
		}
		var fresh int
		var slowest time.Duration
		for _, s := range r.Samples {
			if s.Path != path {
				continue
			}
			if s.New {
				fresh++
			}
			slowest = max(slowest, s.Duration)
		}
		fmt.Fprintf(b, "%-8s %7d %7d %11d %11d\n", path, c.OK, c.Failed, fresh, slowest.Milliseconds())
	}
	for _, path := range r.Via.Paths() {
		if sum := failureSummary(r.Failures, path); sum != "" {
			fmt.Fprintf(b, "failed via %s: %s\n", path, sum)
		}
	}
}
