package report

import (
	"fmt"
	"sort"
	"strings"

	"github.com/understudy/understudy/drill"
)

// failureSummary says, for one path, how its failures split by when and
// cause, e.g. "11 outage; 2 after recovery: 2 connect-timeout to new".
func failureSummary(fs []drill.Failure, path string) string {
	groups := map[string]map[string]int{}
	for _, f := range fs {
		if f.Path != path {
			continue
		}
		if groups[f.When] == nil {
			groups[f.When] = map[string]int{}
		}
		k := f.Cause
		if f.Backend != "" {
			k += " to " + f.Backend
		}
		groups[f.When][k]++
	}
	var parts []string
	for _, when := range []string{drill.FailedBefore, drill.FailedOutage, drill.FailedAfter} {
		g := groups[when]
		if len(g) == 0 {
			continue
		}
		var keys []string
		n := 0
		for k, c := range g {
			keys = append(keys, fmt.Sprintf("%d %s", c, k))
			n += c
		}
		sort.Strings(keys)
		parts = append(parts, fmt.Sprintf("%d %s (%s)", n, strings.ReplaceAll(when, "-", " "), strings.Join(keys, ", ")))
	}
	return strings.Join(parts, "; ")
}
