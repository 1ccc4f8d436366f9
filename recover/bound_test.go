package recover

import (
	"fmt"
	"strings"
	"testing"
)

// TestManyWarningsStayBounded: an incident re-armed again and again, each
// run adding warnings (some repeated, all long), keeps a deduplicated,
// capped list of them and fits MaxRecordBytes.
func TestManyWarningsStayBounded(t *testing.T) {
	cfg := Config{Service: Service{Name: "web"}}
	inc := &Incident{ID: "web-1", Service: "web"}
	for i := range 5000 {
		inc.Warnings = append(inc.Warnings, fmt.Sprintf("dns.verify: server %d does not answer: %s", i%40, strings.Repeat("x", 2000)))
		inc.Warnings = append(inc.Warnings, "dns.verify: 192.0.2.53:53 does not answer 10.200.1.100")
	}
	m := Restore(cfg, Record{Service: "web", State: Stuck, Incident: inc})
	m.bound()
	rec := m.Record()
	if n := encodedSize(rec); n > MaxRecordBytes {
		t.Errorf("record of %d bytes, want at most %d", n, MaxRecordBytes)
	}
	ws := rec.Incident.Warnings
	if len(ws) == 0 || len(ws) > maxWarnings {
		t.Fatalf("%d warnings kept, want 1 to %d", len(ws), maxWarnings)
	}
	seen := map[string]bool{}
	for _, w := range ws {
		if seen[w] || len(w) > MaxTextBytes {
			t.Errorf("warning kept twice or longer than %d bytes: %.80q", MaxTextBytes, w)
		}
		seen[w] = true
	}
	if ws[len(ws)-1] != "dns.verify: 192.0.2.53:53 does not answer 10.200.1.100" {
		t.Errorf("the latest warning %.80q, want the last one added", ws[len(ws)-1])
	}
}
