package coverage

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/understudy/understudy/internal/yamlpos"
)

// WriteText writes r as an operator reads it: the figures it uses, one
// block per failure domain (recovered in order, then unprotected), and the
// schemes compared.
func WriteText(w io.Writer, r Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "coverage of %s\n", r.Inventory)
	fmt.Fprintf(&b, "capacity: %s\n", r.Capacity)
	var figs []string
	for _, f := range r.Drills {
		if f.MedianMS == nil {
			figs = append(figs, f.Mode+" no drill yet")
			continue
		}
		figs = append(figs, fmt.Sprintf("%s %s (median of %d, %s–%s)", f.Mode, Millis(*f.MedianMS), f.Drills, Millis(*f.MinMS), Millis(*f.MaxMS)))
	}
	fmt.Fprintf(&b, "drills: %s\n", strings.Join(figs, "; "))
	for _, d := range r.Domains {
		writeDomain(&b, d)
	}
	writeRecoveryPoints(&b, r.RecoveryPoints)
	writeSchemes(&b, r)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeDomain(b *strings.Builder, d Domain) {
	fmt.Fprintf(b, "\nloss of %s %s (%s): %d services, %d recovered, %d unprotected\n",
		d.Kind, d.Name, strings.Join(d.Hypervisors, ", "), d.Services, len(d.Recovered), len(d.Unprotected))
	if d.Services == 0 {
		return
	}
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  order\tservice\tpriority\tmode\tmemory\tstandby\texpected")
	for _, x := range d.Recovered {
		mode := x.Mode
		if x.Running {
			mode += " (running)"
		}
		fmt.Fprintf(tw, "  %d\t%s\t%d\t%s\t%s\t%s\t%s\n", x.Order, x.Service, x.Priority, mode, mem(x.Memory), x.Standby, x.Expected)
	}
	for _, u := range d.Unprotected {
		fmt.Fprintf(tw, "  -\t%s\t%d\t%s\t%s\t%s\tunprotected: %s\n", u.Service, u.Priority, u.Mode, mem(u.Memory), u.Standby, u.Reason)
	}
	tw.Flush()
}

func writeRecoveryPoints(b *strings.Builder, rp RecoveryPoints) {
	exceeded := 0
	for _, p := range rp.Synced {
		if p.Exceeded {
			exceeded++
		}
	}
	fmt.Fprintf(b, "\nrecovery points (services[].sync): %d synced", len(rp.Synced))
	if rp.Live {
		fmt.Fprintf(b, ", %d exceed their max-rpo", exceeded)
	}
	fmt.Fprintln(b)
	if len(rp.Synced) > 0 {
		tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  service\tmethod\tpaths\tevery\tmax-rpo\tcopy")
		for _, p := range rp.Synced {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", p.Service, p.Method, strings.Join(p.Paths, ","),
				span(p.EveryMS), span(p.MaxRPOMS), p.Note)
		}
		tw.Flush()
	}
	if len(rp.Unsynced) > 0 {
		fmt.Fprintf(b, "  without sync (a failover serves what the standby was prepared with): %s\n", strings.Join(rp.Unsynced, ", "))
	}
}

// span writes milliseconds as a duration without its zero units: 1m, 90s,
// 1h30m, 250ms.
func span(ms int64) string {
	s := (time.Duration(ms) * time.Millisecond).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func writeSchemes(b *strings.Builder, r Report) {
	fmt.Fprintf(b, "\nwhat the shared standby saves\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  scheme\tstandby VMs\tcost per year\tsaved per year\tRTO\tRTO from")
	for _, s := range r.Schemes {
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\t%s\n", s.Name, s.StandbyVMs, money(s.CostPerYear, r.Currency), money(s.SavedPerYear, r.Currency), s.RTO, s.Source)
	}
	tw.Flush()
	if r.Currency == "" {
		fmt.Fprintf(b, "  (no cost.vm-month in the inventory: no cost)\n")
	}
	fmt.Fprintf(b, "  research: %s\n", r.Research)
}

func mem(n int64) string {
	if n == 0 {
		return "-"
	}
	return yamlpos.FormatSize(n)
}

// money writes a price with thousands separators: 14,850 USD; "-" for nil.
func money(v *float64, cur string) string {
	if v == nil {
		return "-"
	}
	n := int64(*v + 0.5)
	s := fmt.Sprint(n)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out) + " " + cur
}
