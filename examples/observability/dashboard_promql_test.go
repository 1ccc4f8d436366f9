package observability

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/understudy/understudy/internal/labtest"
)

// dashboardVars are the values the dashboard's variables take (its
// templating defaults) and Grafana's interval variables, for evaluating
// its queries outside Grafana.
var dashboardVars = map[string]string{
	"$monitor_job":     "understudy-monitor.*",
	"$agent_job":       "understudy-agent.*",
	"$proxy_job":       "understudy-proxy.*",
	"$__rate_interval": "5m",
	"$__range":         "30m",
	"$__interval":      "1m",
	"${DS_PROMETHEUS}": "",
}

// syntheticSeries are series of every metric the dashboard reads, with the
// label names their exporters give them (standby/metrics_capacity.go,
// monitor/metrics_status.go, proxy, monitor/probe, recover/executor,
// drill/report, internal/tlsfiles) and the job and instance labels a
// Prometheus scrape adds. Counters and histograms grow, so rates are not
// zero. Over 30 samples at 1m.
var syntheticSeries = func() [][2]string {
	mon := `job="understudy-monitor",instance="mon-a:9179"`
	agent := `job="understudy-agent",instance="sb:8443"`
	proxy := `job="understudy-proxy",instance="proxy:9181"`
	var out [][2]string
	add := func(series, values string) { out = append(out, [2]string{series, values}) }
	hist := func(name, labels string, les ...string) {
		for i, le := range append(les, "+Inf") {
			add(fmt.Sprintf(`%s_bucket{%s,le="%s"}`, name, labels, le), fmt.Sprintf("0+%dx30", i+1))
		}
		add(fmt.Sprintf(`%s_sum{%s}`, name, labels), "0+2x30")
		add(fmt.Sprintf(`%s_count{%s}`, name, labels), fmt.Sprintf("0+%dx30", len(les)+1))
	}
	for _, st := range []string{"primary", "on-standby"} {
		add(`understudy_monitor_service_state{`+mon+`,service="web",state="`+st+`"}`, "1x30")
	}
	for _, m := range []string{"service_unprotected", "service_fence_unconfirmed", "service_dns_unverified"} {
		add(`understudy_monitor_`+m+`{`+mon+`,service="web"}`, "0x30")
	}
	add(`understudy_monitor_standby_prepared{`+mon+`,service="web",standby="sb"}`, "1x30")
	add(`understudy_monitor_leader{`+mon+`}`, "1x30")
	add(`understudy_monitor_leader_epoch{`+mon+`}`, "3x30")
	add(`understudy_monitor_triggers_total{`+mon+`,source="monitor",result="accepted"}`, "0+1x30")
	add(`understudy_recover_incidents_total{`+mon+`,result="recovered"}`, "0+1x30")
	hist("understudy_recover_phase_seconds", mon+`,phase="fence"`, "0.1", "1")
	hist("understudy_recover_recovery_seconds", mon, "1", "2")
	hist("understudy_recover_move_seconds", mon+`,kind="migrate"`, "1", "5")
	add(`understudy_drill_regression{`+mon+`,service="web",inject="vm-stop"}`, "0x30")
	add(`understudy_drill_last_recovery_seconds{`+mon+`,service="web",inject="vm-stop"}`, "1.2x30")
	add(`understudy_probe_target_up{`+mon+`,target="web-vm"}`, "1x30")
	add(`understudy_probe_failures_total{`+mon+`,kind="icmp",target="web-vm"}`, "0+1x30")
	hist("understudy_probe_duration_seconds", mon+`,kind="icmp"`, "0.001", "0.01")
	add(`understudy_probe_events_total{`+mon+`,kind="down"}`, "0+1x30")
	add(`understudy_proxy_held_requests{`+proxy+`,service="web"}`, "2x30")
	add(`understudy_proxy_placement_held{`+proxy+`,service="web"}`, "0x30")
	add(`understudy_proxy_held_requests_total{`+proxy+`,service="web",reason="failover"}`, "0+2x30")
	add(`understudy_proxy_suspects_total{`+proxy+`,service="web",by="timeout"}`, "0+1x30")
	hist("understudy_proxy_hold_seconds", proxy+`,service="web"`, "0.5", "1")
	add(`understudy_proxy_requests_total{`+proxy+`,service="web",outcome="ok"}`, "0+10x30")
	add(`understudy_proxy_client_connections{`+proxy+`}`, "4x30")
	add(`understudy_proxy_monitor_connected{`+proxy+`}`, "1x30")
	add(`understudy_agent_containers_running{`+agent+`}`, "2x30")
	add(`understudy_agent_capacity_containers{`+agent+`}`, "4x30")
	add(`understudy_agent_memory_reserved_bytes{`+agent+`}`, "1e8x30")
	add(`understudy_agent_capacity_memory_bytes{`+agent+`}`, "1e9x30")
	add(`understudy_agent_vm_memory_available_bytes{`+agent+`}`, "5e8x30")
	for _, w := range []string{"1m", "5m", "15m"} {
		add(`understudy_agent_vm_load_average{`+agent+`,window="`+w+`"}`, "0.5x30")
	}
	add(`understudy_agent_vm_cpus{`+agent+`}`, "2x30")
	add(`understudy_agent_vm_steal_ratio{`+agent+`}`, "0.01x30")
	add(`understudy_agent_ready{`+agent+`}`, "1x30")
	add(`understudy_agent_epoch{`+agent+`}`, "3x30")
	hist("understudy_agent_activation_seconds", agent+`,mode="warm"`, "0.1", "1")
	add(`understudy_tls_certificate_expiry_seconds{`+agent+`,role="agent-server",path="/etc/understudy/agent.crt"}`, "8640000x30")
	return out
}()

// dashboardVarRE finds a variable left in a query after substitution.
var dashboardVarRE = regexp.MustCompile(`\$\{?\w+`)

// dashboardQueries returns every query of the dashboard with its variables
// substituted, by panel title.
func dashboardQueries(t *testing.T) [][2]string {
	t.Helper()
	var d dashboardModel
	if err := json.Unmarshal(Dashboard, &d); err != nil {
		t.Fatal(err)
	}
	var out [][2]string
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			e := q.Expr
			for k, v := range dashboardVars {
				e = strings.ReplaceAll(e, k, v)
			}
			if v := dashboardVarRE.FindString(e); v != "" {
				t.Errorf("panel %q: no value for %s in %q", p.Title, v, q.Expr)
			}
			out = append(out, [2]string{p.Title, e})
		}
	}
	return out
}

// Every query of the dashboard returns data on series shaped like the
// exporters' (syntheticSeries): promtool evaluates each one, wrapped as
// count(QUERY) > bool 0, which is 1 only when the query returns at least
// one sample. A query whose label matching cannot match (such as dividing
// series whose label sets differ) returns nothing and fails here.
func TestDashboardQueriesReturnData(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		labtest.Skip(t, "promtool not installed (Debian's prometheus package; lab.sh up installs it)")
	}
	type sample struct {
		Labels string  `yaml:"labels"`
		Value  float64 `yaml:"value"`
	}
	type exprTest struct {
		Expr     string   `yaml:"expr"`
		EvalTime string   `yaml:"eval_time"`
		Samples  []sample `yaml:"exp_samples"`
	}
	type series struct {
		Series string `yaml:"series"`
		Values string `yaml:"values"`
	}
	var in []series
	for _, s := range syntheticSeries {
		in = append(in, series{s[0], s[1]})
	}
	queries := dashboardQueries(t)
	var exprs []exprTest
	for _, q := range queries {
		exprs = append(exprs, exprTest{Expr: "count(" + q[1] + ") > bool 0", EvalTime: "30m", Samples: []sample{{"{}", 1}}})
	}
	file := map[string]any{
		"evaluation_interval": "1m",
		"tests":               []map[string]any{{"interval": "1m", "input_series": in, "promql_expr_test": exprs}},
	}
	b, err := yaml.Marshal(file)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dashboard_test.yaml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), promtool, "test", "rules", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Errorf("promtool test rules on the dashboard's %d queries: %v\n%s", len(queries), err, out)
	}
	if len(queries) < 35 {
		t.Errorf("%d dashboard queries, want every one of its panels'", len(queries))
	}
}

// A time series panel draws one value per step: a query over $__range
// would give every step the whole dashboard range, so they use
// $__rate_interval (a stat or table panel may use $__range).
func TestDashboardTimeseriesUseRateInterval(t *testing.T) {
	var d struct {
		Panels []struct {
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(Dashboard, &d); err != nil {
		t.Fatal(err)
	}
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			if (p.Type == "timeseries" || p.Type == "heatmap") && strings.Contains(q.Expr, "$__range") {
				t.Errorf("%s panel %q: %q uses $__range", p.Type, p.Title, q.Expr)
			}
		}
	}
}
