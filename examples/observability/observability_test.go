package observability

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

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

// Every alert has a runbook link to a section of docs/alerts.md (its
// anchor resolved against that file's headings by GitHub's rules), a
// severity and a summary.
func TestAlertsHaveRunbooks(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "alerts.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := markdownAnchors(string(doc))
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
			anchor, ok := strings.CutPrefix(r.Annotations["runbook_url"], "docs/alerts.md#")
			if !ok || !anchors[anchor] {
				t.Errorf("%s: runbook_url %q is not docs/alerts.md#ANCHOR of one of its headings", r.Alert, r.Annotations["runbook_url"])
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

// markdownAnchors returns the anchors GitHub gives the headings of a
// Markdown document: lower case, punctuation other than '-' and '_'
// dropped, spaces turned into '-', and "-1", "-2", ... added to repeats.
// Headings inside fenced code blocks do not count.
func markdownAnchors(doc string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	fenced := false
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
		}
		text, ok := strings.CutPrefix(line, "#")
		if fenced || !ok {
			continue
		}
		text = strings.TrimLeft(text, "#")
		if !strings.HasPrefix(text, " ") {
			continue
		}
		var b strings.Builder
		for _, c := range strings.ToLower(strings.TrimSpace(text)) {
			switch {
			case unicode.IsLetter(c), unicode.IsDigit(c), c == '-', c == '_':
				b.WriteRune(c)
			case c == ' ':
				b.WriteRune('-')
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			out[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out
}

func TestMarkdownAnchors(t *testing.T) {
	got := markdownAnchors("# Alert runbooks\n## `UnderstudyNoLeader`: what?\n```\n# not a heading\n```\n## Notes\n## Notes\n#nospace\n")
	want := map[string]bool{"alert-runbooks": true, "understudynoleader-what": true, "notes": true, "notes-1": true}
	if !maps.Equal(got, want) {
		t.Errorf("anchors %v, want %v", got, want)
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

// Each reference names the component its selector's job variable names,
// or its name's: the dashboard's agent metrics come from the agents, the
// alert rules' from the component of their name.
func TestRefComponents(t *testing.T) {
	for _, tc := range []struct{ expr, want string }{
		{`understudy_agent_vm_cpus{job=~"$agent_job"}`, Agent},
		{`sum(rate(understudy_probe_failures_total{job=~"$monitor_job"}[5m]))`, Monitor},
		{`understudy_proxy_monitor_connected == 0`, Proxy},
		{`understudy_agent_ready == 0`, Agent},
		{`understudy_drill_regression == 1`, Monitor},
		{`min by (instance) (understudy_tls_certificate_expiry_seconds)`, ""},
	} {
		refs := appendRefs(nil, tc.expr, "t")
		if len(refs) != 1 || refs[0].Component != tc.want {
			t.Errorf("%s: %+v, want component %q", tc.expr, refs, tc.want)
		}
	}
	refs, err := Refs()
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, r := range refs {
		n[r.Component]++
	}
	if n[Monitor] == 0 || n[Agent] == 0 || n[Proxy] == 0 {
		t.Errorf("references by component %v, want each of monitor, agent and proxy", n)
	}
}
