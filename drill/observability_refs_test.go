package drill_test

import (
	"strings"
	"testing"

	"github.com/understudy/understudy/examples/observability"
)

// missingRefs looks for a reference in the component it names only: a
// metric the agent exports does not satisfy a panel that reads it from the
// monitor's job, and one without a component may come from any.
func TestMissingRefsByComponent(t *testing.T) {
	scraped := map[string][]byte{
		observability.Monitor: []byte("# TYPE understudy_monitor_leader gauge\n"),
		observability.Agent:   []byte("# TYPE understudy_agent_ready gauge\n# TYPE understudy_tls_certificate_expiry_seconds gauge\n"),
	}
	ok := []observability.Ref{
		{Name: "understudy_monitor_leader", Component: observability.Monitor},
		{Name: "understudy_agent_ready", Component: observability.Agent},
		{Name: "understudy_tls_certificate_expiry_seconds"},
	}
	if err := missingRefs(ok, scraped); err != nil {
		t.Errorf("every reference exported where it looks: %v", err)
	}
	wrong := []observability.Ref{{Name: "understudy_agent_ready", Where: "panel x", Component: observability.Monitor}}
	err := missingRefs(wrong, scraped)
	if err == nil || !strings.Contains(err.Error(), "understudy_agent_ready (panel x, from the monitor)") {
		t.Errorf("agent metric read from the monitor's job: %v", err)
	}
}
