package monitorapi

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/understudy/understudy/monitor/api"
)

// The tables the commands print from the monitor's answers.

// PrintStatus writes GET /v1/status as `understudy status` shows it: the
// monitors, the VMs' samples, then one line per service, its last recovery
// with the time between phases.
func PrintStatus(w io.Writer, st api.Status, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(st.Monitors) > 0 {
		fmt.Fprintln(tw, "MONITOR\tROLE\tADDRESS\tLEADS SINCE\tEPOCH")
		for _, m := range st.Monitors {
			role, epoch := "follower", "-"
			if m.Leader {
				role, epoch = "leader", fmt.Sprint(m.Epoch)
			}
			if m.Name == st.Monitor {
				role += " (answered)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.Name, role, orDash(m.Address), since(m.Since, now), epoch)
		}
		fmt.Fprintln(tw)
	}
	if len(st.VMs) > 0 {
		fmt.Fprintln(tw, "VM\tKIND\tSTEAL\tLOAD/CPU\tCPU\tMEM\tSAMPLED\tSTATE")
		for _, v := range st.VMs {
			steal, load, state := fmt.Sprintf("%.1f%%", v.Steal), fmt.Sprintf("%.2f", v.LoadPerCPU), "ok"
			cpu, mem := "-", "-"
			if v.LoadSource != "" {
				cpu, mem = fmt.Sprintf("%.0f%%", v.CPUPercent), fmt.Sprintf("%.0f%%", v.MemoryPercent)
			}
			if v.Unknown != "" {
				steal, load, state = "?", "?", v.Unknown
			}
			if v.Trigger != "" && v.TriggerState != "" && v.Unknown == "" {
				state = v.Trigger + " " + v.TriggerState
				if v.Why != "" {
					state += ": " + v.Why
				}
			}
			if v.Overloaded {
				state = "OVERLOADED: " + v.Why
				if v.Trigger != "" {
					state = "OVERLOADED (" + v.Trigger + "): " + v.Why
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.Name, v.Kind, steal, load, cpu, mem, since(v.SampledAt, now), state)
		}
		fmt.Fprintln(tw)
	}
	if st.Error != "" {
		fmt.Fprintf(tw, "error: %s\n\n", st.Error)
	}
	fmt.Fprintln(tw, "SERVICE\tSTATE\tLOCATION\tADDRESS\tSINCE\tRPO\tLAST RECOVERY")
	for _, s := range st.Services {
		state := s.State
		if s.Unprotected != "" { // waits for room on its standby
			state = "unprotected: " + s.Unprotected
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Service, state, location(s), orDash(s.Address), since(s.Since, now), rpo(s.Sync), lastRecovery(s.LastIncident))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range st.Services { // a standby that could not be prepared, before it is needed
		if !s.Standby.Prepared && s.Standby.Error != "" {
			fmt.Fprintf(w, "%s (standby %s): %s\n", s.Service, s.Standby.Name, s.Standby.Error)
		}
		if y := s.Sync; y != nil && y.LastError != "" {
			fmt.Fprintf(w, "%s (sync): %s\n", s.Service, y.LastError)
		}
		for _, r := range s.Rerouted { // a proxy that cannot reach the primary (proxy-reroute: warm)
			fmt.Fprintf(w, "%s: rerouted by proxy %s since %s (to the warm standby %s: %s)\n",
				s.Service, r.Proxy, r.Since.UTC().Format(time.RFC3339), orDash(r.Standby), orDash(r.Reason))
		}
	}
	return nil
}

func location(s api.ServiceStatus) string {
	if s.Host == "" {
		return orDash(s.Where)
	}
	return s.Where + "/" + s.Host
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// since is an age, rounded for reading ("3m12s ago").
func since(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Hour:
		return d.Round(time.Second).String() + " ago"
	default:
		return t.Local().Format("2006-01-02 15:04")
	}
}

// rpo is the age of the standby's copy (services[].sync): "12s", "4m12s
// EXCEEDED max-rpo 3m0s", "never synced", or "-" without sync.
func rpo(y *api.SyncStatus) string {
	if y == nil {
		return "-"
	}
	out := "never synced"
	if !y.LastGood.IsZero() {
		out = (time.Duration(y.AgeMS) * time.Millisecond).Round(time.Second).String()
	}
	if y.Exceeded {
		out += fmt.Sprintf(" EXCEEDED max-rpo %s", time.Duration(y.MaxRPOMS)*time.Millisecond)
	}
	return out
}

// lastRecovery is "912ms (confirmed +3, fenced +10, ...) recovered", or the
// open incident's progress.
func lastRecovery(inc *api.IncidentStatus) string {
	if inc == nil {
		return "-"
	}
	var parts []string
	for _, p := range inc.Phases[min(1, len(inc.Phases)):] {
		parts = append(parts, fmt.Sprintf("%s +%g", p.Phase, p.SinceMS))
	}
	out := fmt.Sprintf("%gms", inc.TotalMS)
	if len(parts) > 0 {
		out += " (" + strings.Join(parts, ", ") + ")"
	}
	switch {
	case inc.Stuck != "":
		out += " STUCK: " + inc.Stuck
	case inc.Open:
		out += " in progress"
	case inc.Result != "":
		out += " " + inc.Result
	}
	if inc.Copy != nil {
		out += "; " + inc.Copy.Note
	}
	return out
}

// PrintCandidates writes the scored spares of a migrate answer: the CPU steal and the 1-minute
// load per CPU their agents measured ("?" when unknown: no spares[].agent,
// or no answer; WHY says which).
func PrintCandidates(w io.Writer, res api.MigrateResponse) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RANK\tSPARE\tZONE\tROLES\tSTEAL\tLOAD/CPU\tFREE SLOTS\tWHY")
	for _, c := range res.Candidates {
		rank := "-"
		if c.Eligible {
			rank = fmt.Sprint(c.Rank)
		}
		steal, load := fmt.Sprintf("%.1f%%", c.Steal), fmt.Sprintf("%.2f", c.Load1)
		if c.Unmeasured != "" {
			steal, load = "?", "?"
		}
		roles := strings.Join(c.Roles, ",")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", rank, c.Name, c.Zone, orDash(roles), steal, load, c.FreeSlots, strings.Join(c.Reasons, "; "))
	}
	tw.Flush()
}
