package observability

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/understudy/understudy/internal/labtest"
)

// promtool checks the rules and runs their unit tests (alerts_test.yaml:
// each alert quiet before its condition and firing once it held).
func TestPromtoolRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		labtest.Skip(t, "promtool not installed (Debian's prometheus package; lab.sh up installs it)")
	}
	for _, args := range [][]string{{"check", "rules", "alerts.yaml"}, {"test", "rules", "alerts_test.yaml"}} {
		out, err := exec.CommandContext(t.Context(), promtool, args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "SUCCESS") {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// Every alert has a runbook link to an anchor of docs/operations.md, a
// severity and a summary.
func TestAlertsHaveRunbooks(t *testing.T) {
	var f struct {
		Groups []struct {
			Rules []struct {
				Alert       string            `json:"alert"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := decodeYAML(Alerts, &f); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			n++
			if !strings.HasPrefix(r.Annotations["runbook_url"], "docs/operations.md#alert-") {
				t.Errorf("%s: runbook_url %q, want docs/operations.md#alert-...", r.Alert, r.Annotations["runbook_url"])
			}
			if r.Labels["severity"] != "critical" && r.Labels["severity"] != "warning" {
				t.Errorf("%s: severity %q", r.Alert, r.Labels["severity"])
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: no summary or description", r.Alert)
			}
		}
	}
	if n < 8 {
		t.Errorf("%d alerts, want at least the 8 of issue 22", n)
	}
}

// The dashboard is an importable Grafana model: its datasource is the
// ${DS_PROMETHEUS} input everywhere, panel ids are unique, and every panel
// but the rows queries at least one understudy metric.
func TestDashboardModel(t *testing.T) {
	var d struct {
		Inputs []struct {
			Name     string `json:"name"`
			PluginID string `json:"pluginId"`
		} `json:"__inputs"`
		Panels []struct {
			ID         int    `json:"id"`
			Type       string `json:"type"`
			Title      string `json:"title"`
			Datasource *struct {
				UID string `json:"uid"`
			} `json:"datasource"`
			Targets []struct {
				Expr       string `json:"expr"`
				Datasource struct {
					UID string `json:"uid"`
				} `json:"datasource"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(Dashboard, &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Inputs) != 1 || d.Inputs[0].Name != "DS_PROMETHEUS" || d.Inputs[0].PluginID != "prometheus" {
		t.Errorf("__inputs = %+v, want the one DS_PROMETHEUS input", d.Inputs)
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${DS_PROMETHEUS}" {
			t.Errorf("panel %q: datasource %+v", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			if q.Datasource.UID != "${DS_PROMETHEUS}" || !metricRE.MatchString(q.Expr) {
				t.Errorf("panel %q: query %q on %q", p.Title, q.Expr, q.Datasource.UID)
			}
		}
	}
	refs, err := Refs()
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) < 30 {
		t.Errorf("%d metric references, want the dashboard's and the rules'", len(refs))
	}
}

// decodeYAML decodes YAML through JSON, so the json tags above apply.
func decodeYAML(b []byte, v any) error {
	var m any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return err
	}
	j, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return json.Unmarshal(j, v)
}
