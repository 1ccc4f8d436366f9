package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/understudy/understudy/drill"
)

// WriteHostJSON writes a host drill's result as one indented JSON object.
func WriteHostJSON(w io.Writer, h *drill.HostResult) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(h)
}

// WriteHostReport writes a host drill's readable report: the verdict with
// the time until every service was served again and its p50 and p95 over
// the services, the client errors per path in total, the per-service phase
// table with each service's errors per path, the steps with the slowest,
// and the notes (each service's prefixed with its name).
func WriteHostReport(w io.Writer, h *drill.HostResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "host drill %s: inject %s, via %s, %d clients per path and service, %d services, %s\n",
		h.Hypervisor, h.Inject, h.Via, h.Load, h.Total, h.Started.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "verdict: %s: %d of %d services served again", strings.ToUpper(h.Verdict), h.Recovered, h.Total)
	if h.AllServedMS != nil {
		fmt.Fprintf(&b, ", every one within %d ms", *h.AllServedMS)
	}
	if h.P50MS != nil {
		fmt.Fprintf(&b, " (p50 %d ms, p95 %d ms over the services)", *h.P50MS, *h.P95MS)
	}
	b.WriteString("\n")
	for _, path := range h.Via.Paths() {
		c := pathCount(h.Requests, path)
		fmt.Fprintf(&b, "requests via %s: %d ok, %d failed (%d during the outage)\n", path, c.OK, c.Failed, drill.OutageFailed(c))
	}
	b.WriteString("\n")
	writeHostTable(&b, h)
	b.WriteString("\n")
	if len(h.Steps) > 0 {
		fmt.Fprintf(&b, "%-13s %-40s %3s %9s %7s\n", "step", "from -> to", "n", "median ms", "max ms")
		for _, s := range h.Steps {
			fmt.Fprintf(&b, "%-13s %-40s %3d %9d %7d\n", s.Name, s.From+" -> "+s.To, s.N, s.MedianMS, s.MaxMS)
		}
		fmt.Fprintf(&b, "slowest step: %s\n", h.SlowestStep)
	}
	for _, n := range h.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	for _, r := range h.Services {
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "note: %s: %s\n", r.Service, n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeHostTable writes one row per service: its phases in ms from the
// injection, its recovery and its failed requests per path (all of them,
// and in brackets those during the outage).
func writeHostTable(b *strings.Builder, h *drill.HostResult) {
	nw := len("service")
	for i := range h.Services {
		nw = max(nw, len(h.Services[i].Service))
	}
	fmt.Fprintf(b, "%-*s %-5s %7s %7s %7s %7s %7s %7s %7s %7s %8s %11s %11s  %s\n", nw, "service", "mode",
		"detect", "confirm", "fenced", "activ.", "healthy", "dns", "1st dns", "1st prx", "recovery", "dns err", "proxy err", "incident")
	for i := range h.Services {
		r := &h.Services[i]
		p := r.Phases
		fmt.Fprintf(b, "%-*s %-5s %7s %7s %7s %7s %7s %7s %7s %7s %8s %11s %11s  %s\n", nw, r.Service, r.Mode,
			msText(p.Detected), msText(p.Confirmed), msText(p.Fenced), msText(p.Activated), msText(p.Healthy),
			msText(p.DNSFlipped), msText(p.FirstSuccessDNS), msText(p.FirstSuccessProxy), msText(r.RecoveryMS),
			errText(r, drill.PathDNS), errText(r, drill.PathProxy), strings.TrimSpace(r.Incident+" "+r.IncidentResult))
	}
}

// errText is a service's failed requests on path, with those during the
// outage in brackets, or "-" when the drill did not use the path.
func errText(r *drill.Result, path string) string {
	for _, p := range r.Via.Paths() {
		if p == path {
			c := pathCount(r.Requests, path)
			return fmt.Sprintf("%d (%d)", c.Failed, drill.OutageFailed(c))
		}
	}
	return "-"
}

func pathCount(r drill.Requests, path string) drill.PathCount {
	if path == drill.PathProxy {
		return r.Proxy
	}
	return r.DNS
}

// WriteHostSVG draws a host drill as one lane per service (a row per
// client and path, DNS first), each shaded until the service was served
// again, with markers for the injection, the fault, the p50 and p95 of the
// services' recovery and the moment every service was served again.
func WriteHostSVG(w io.Writer, h *drill.HostResult) error {
	zero := int64(0)
	marks := []mark{{"I", "inject", &zero}, {"P", "fault in place", h.FaultInPlace},
		{"5", "p50", h.P50MS}, {"9", "p95", h.P95MS}, {"A", "all served", h.AllServedMS}, {"R", "fault removed", h.FaultRemoved}}
	var shown []mark
	for _, m := range marks {
		if m.MS != nil {
			shown = append(shown, m)
		}
	}
	var from, to int64 = 0, 1
	for _, m := range shown {
		to = max(to, *m.MS)
	}
	var lanes []lane
	for i := range h.Services {
		r := &h.Services[i]
		f, t := span(r)
		from, to = min(from, f), max(to, t)
		paths := r.Via.Paths()
		clients := max(r.Load, 1)
		for _, s := range r.Samples {
			clients = max(clients, s.Client+1)
		}
		sub := ""
		for _, p := range paths {
			sub += fmt.Sprintf("%s %d err ", p, drill.OutageFailed(pathCount(r.Requests, p)))
		}
		name := r.Service
		if r.Mode != "" {
			name += " (" + r.Mode + ")"
		}
		lanes = append(lanes, lane{
			id: r.Service, name: name, sub: strings.TrimSpace(sub), first: r.RecoveryMS,
			rows: clients * len(paths), minH: 30, res: r,
			row: func(s drill.Sample) (int, bool) {
				for pi, p := range paths {
					if s.Path == p {
						return pi*clients + s.Client, true
					}
				}
				return 0, false
			},
		})
	}
	v := fmt.Sprintf("%s, %d of %d served again", h.Verdict, h.Recovered, h.Total)
	if h.AllServedMS != nil {
		v += fmt.Sprintf(" within %d ms", *h.AllServedMS)
	}
	headline := fmt.Sprintf("host drill %s · %s · via %s · %d services · %s", h.Hypervisor, h.Inject, h.Via, h.Total, v)
	return writeChart(w, headline, lanes, shown, from, to)
}

// WriteHostOutputs writes what `understudy drill --hypervisor` was asked
// for, as WriteOutputs does for one service.
func WriteHostOutputs(stdout io.Writer, h *drill.HostResult, jsonOut, svgOut string) error {
	if jsonOut != "-" {
		if err := WriteHostReport(stdout, h); err != nil {
			return err
		}
	}
	for _, out := range []struct {
		path  string
		write func(io.Writer, *drill.HostResult) error
	}{{jsonOut, WriteHostJSON}, {svgOut, WriteHostSVG}} {
		switch out.path {
		case "":
		case "-":
			if err := out.write(stdout, h); err != nil {
				return err
			}
		default:
			if err := writeFileWith(out.path, h, out.write); err != nil {
				return err
			}
		}
	}
	return nil
}

// HostService is the service name a host drill's own line in the history
// carries: "host:" and the hypervisor.
func HostService(hypervisor string) string { return "host:" + hypervisor }

// HostLine is a host drill's own line of the history: a Result whose
// service is HostService, whose recovery is the time until every service
// was served again, with the requests of all of them.
func HostLine(h *drill.HostResult) drill.Result {
	r := drill.Result{
		Service: HostService(h.Hypervisor), Inject: h.Inject, Via: h.Via, Verdict: h.Verdict,
		Started: h.Started, Load: h.Load, RecoveryMS: h.AllServedMS, Requests: h.Requests, Host: h.Hypervisor,
		Restored: h.Restored, Notes: h.Notes,
	}
	r.Phases.FaultInPlace, r.Phases.FaultRemoved = h.FaultInPlace, h.FaultRemoved
	r.Notes = append(r.Notes, fmt.Sprintf("%d of %d services served again; p50 %s ms, p95 %s ms; slowest step %s",
		h.Recovered, h.Total, msText(h.P50MS), msText(h.P95MS), h.SlowestStep))
	return r
}

// AppendHostHistory appends a host drill to the history at path: every
// service's result (Host set, so the trend compares it only with the same
// service's host drills), then the host's own line (HostLine), whose chart
// is the host drill's (WriteHostSVG).
func AppendHostHistory(path string, h *drill.HostResult) error {
	var chartErr error
	for i := range h.Services {
		if err := AppendHistory(path, &h.Services[i]); err != nil {
			if !errorsIsChart(err) {
				return err
			}
			chartErr = err
		}
	}
	line := HostLine(h)
	if err := appendLine(path, &line); err != nil {
		return err
	}
	if err := saveChartWith(path, ID(&line), func(w io.Writer) error { return WriteHostSVG(w, h) }); err != nil {
		return fmt.Errorf("%w: %w", ErrChartNotSaved, err)
	}
	return chartErr
}
