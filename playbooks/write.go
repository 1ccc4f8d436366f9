package playbooks

import (
	"fmt"
	"io"
	"strings"
)

// Write prints pb in the YAML form of the embedded defaults, which Parse
// reads back: one entry per step, with only the keys that differ from the
// zero value (a single attempt, no budget, not idempotent).
func Write(w io.Writer, pb *Playbook) error {
	var b strings.Builder
	for _, st := range pb.Steps {
		fmt.Fprintf(&b, "- step: %s\n", st.Kind)
		if st.Timeout > 0 {
			fmt.Fprintf(&b, "  timeout: %s\n", st.Timeout)
		}
		if r := st.Retry; r.Attempts > 1 || r.Budget > 0 {
			var keys []string
			if r.Attempts > 1 {
				keys = append(keys, fmt.Sprintf("attempts: %d", r.Attempts))
			}
			keys = append(keys, fmt.Sprintf("backoff: %s", r.Backoff))
			if r.MaxBackoff > 0 {
				keys = append(keys, fmt.Sprintf("max-backoff: %s", r.MaxBackoff))
			}
			if r.Budget > 0 {
				keys = append(keys, fmt.Sprintf("budget: %s", r.Budget))
			}
			fmt.Fprintf(&b, "  retry: {%s}\n", strings.Join(keys, ", "))
		}
		if st.Idempotent {
			fmt.Fprintln(&b, "  idempotent: true")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
