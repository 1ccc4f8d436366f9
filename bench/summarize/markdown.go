package main

import (
	"fmt"
	"slices"
	"strings"
)

// writeMarkdown writes NAME.md: when, where and how, then one table per
// kind of result. Values are "median (min–max, n=N)".
func writeMarkdown(w *strings.Builder, s Summary) {
	fmt.Fprintf(w, "# %s\n\n", s.Name)
	fmt.Fprintf(w, "- command: `%s`\n", s.Command)
	fmt.Fprintf(w, "- run %s to %s, nproc %d, %s", s.Started, s.Finished, s.NProc, s.Go)
	if s.LoadStart != "" || s.LoadEnd != "" {
		fmt.Fprintf(w, ", load average %s at the start, %s at the end", orDash(s.LoadStart), orDash(s.LoadEnd))
	}
	fmt.Fprintf(w, "\n- values: median (min–max, n = number of values); raw values in `%s.json`", s.Name)
	if s.Raw != "" {
		fmt.Fprintf(w, ", the raw `go test -json` stream in `%s`", s.Raw)
	}
	fmt.Fprintln(w)
	if len(s.Failed) > 0 {
		fmt.Fprintf(w, "- **FAILED**: %s (its figures are missing or partial)\n", strings.Join(s.Failed, ", "))
	}
	if len(s.Benchmarks) > 0 {
		fmt.Fprintf(w, "\n## Benchmarks\n\nOne value per run (`-count`): ns/op is the mean of the run's iterations, shown in a readable unit; the other metrics are what the benchmark reports (most are the median of the run's iterations).\n\n")
		fmt.Fprintln(w, "| benchmark | iterations per run | metric | value |")
		fmt.Fprintln(w, "|---|---|---|---|")
		for _, b := range s.Benchmarks {
			pkg := b.Package[strings.LastIndex(b.Package, "/understudy/")+len("/understudy/"):]
			for i, u := range b.units {
				label, iters := "", ""
				if i == 0 {
					label, iters = fmt.Sprintf("`%s` %s", pkg, b.Name), ints(b.Iterations)
				}
				st, unit := b.Metrics[u], u
				if u == "ns/op" {
					st, unit = readable(st)
				}
				fmt.Fprintf(w, "| %s | %s | %s | %s |\n", label, iters, unit, st)
			}
		}
	}
	for _, t := range s.Tables {
		fmt.Fprintf(w, "\n## %s (ms), every iteration of every run (%d)\n\n", t.Title, t.Rows)
		fmt.Fprintln(w, "| column | median (min–max) |")
		fmt.Fprintln(w, "|---|---|")
		for _, c := range t.Columns {
			if st, ok := t.Stats[c]; ok {
				fmt.Fprintf(w, "| %s | %s |\n", c, st)
			}
		}
	}
	if len(s.Drills) > 0 {
		fmt.Fprintf(w, "\n## Drills\n\nMilliseconds from the injection; request counts over the whole drill. Reports: `%s`.\n\n", s.DrillSource)
		sets := slices.ContainsFunc(s.Drills, func(k *DrillKind) bool { return k.Fence != "" })
		head, rule := "| inject | mode | runs | verdicts |", "|---|---|---|---|"
		if sets {
			head, rule = "| fence | via | inject | mode | runs | verdicts |", "|---|---|---|---|---|---|"
		}
		fmt.Fprintf(w, "%s %s |\n", head, strings.Join(drillColumns, " | "))
		fmt.Fprintf(w, "%s%s\n", rule, strings.Repeat("---|", len(drillColumns)))
		for _, k := range s.Drills {
			cells := make([]string, len(drillColumns))
			for i, c := range drillColumns {
				cells[i] = "—"
				if st, ok := k.Stats[c]; ok {
					cells[i] = st.String()
				}
			}
			if sets {
				fmt.Fprintf(w, "| %s | %s ", orDash(k.Fence), orDash(k.Via))
			}
			fmt.Fprintf(w, "| %s | %s | %d | %s | %s |\n", k.Inject, k.Mode, k.Runs, strings.Join(k.Verdicts, ", "), strings.Join(cells, " | "))
		}
	}
	if len(s.DrillSets) > 0 {
		fmt.Fprintf(w, "\n## Fence step\n\nfenced − confirmed (ms) of every drill of a fence method, path and mode, all inject kinds together.\n\n")
		fmt.Fprintln(w, "| fence | via | mode | drills | fence_step |")
		fmt.Fprintln(w, "|---|---|---|---|---|")
		for _, set := range s.DrillSets {
			fmt.Fprintf(w, "| %s | %s | %s | %d | %s |\n", orDash(set.Fence), orDash(set.Via), set.Mode, set.Drills, set.FenceStep)
		}
	}
}

// readable converts a ns/op Stat to µs or ms when that reads better.
func readable(st Stat) (Stat, string) {
	div, unit := 1.0, "ns/op"
	switch {
	case st.Median >= 1e6:
		div, unit = 1e6, "ms/op"
	case st.Median >= 1e3:
		div, unit = 1e3, "µs/op"
	}
	v := make([]float64, len(st.Values))
	for i, x := range st.Values {
		v[i] = x / div
	}
	return newStat(v), unit
}

func ints(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
