// Package observability holds the Grafana dashboard (grafana-dashboard.json)
// and the Prometheus alert rules (alerts.yaml, with their promtool tests in
// alerts_test.yaml) for the monitor, the standby agents and the proxy, and
// lists the metrics they read so that tests can check every one is
// exported.
package observability

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// The files, embedded.
var (
	//go:embed grafana-dashboard.json
	Dashboard []byte
	//go:embed alerts.yaml
	Alerts []byte
)

// metricRE matches understudy's metric names in a PromQL expression.
var metricRE = regexp.MustCompile(`\bunderstudy_[a-z_]+\b`)

// selectorRE matches a metric name with its label matchers, if any.
var selectorRE = regexp.MustCompile(`\b(understudy_[a-z_]+)\b(\{[^}]*\})?`)

// The components that export metrics, as Ref.Component names them.
const (
	Monitor = "monitor"
	Agent   = "agent"
	Proxy   = "proxy"
)

// jobComponents maps the dashboard's job variables to their components.
var jobComponents = map[string]string{"$monitor_job": Monitor, "$agent_job": Agent, "$proxy_job": Proxy}

// histogramSuffixes are the series a histogram adds to its name.
var histogramSuffixes = []string{"_bucket", "_sum", "_count"}

// Ref is a metric an expression names, and where.
type Ref struct {
	// Name is the name as written (a histogram's _bucket, _sum or _count
	// included).
	Name string
	// Where is the panel's or the alert's title.
	Where string
	// Component is the daemon that must export it: the one the
	// selector's job=~"$..._job" names, or, without one, the one its name
	// says (understudy_agent_*, understudy_proxy_*; understudy_tls_* any,
	// ""; the others the monitor's).
	Component string
}

// Family returns the metric family a name belongs to when it ends in a
// histogram's suffix and families does not hold it as written.
func (r Ref) Family(families map[string]bool) (string, bool) {
	if families[r.Name] {
		return r.Name, true
	}
	for _, s := range histogramSuffixes {
		if base, ok := strings.CutSuffix(r.Name, s); ok && families[base] {
			return base, true
		}
	}
	return "", false
}

// dashboardModel is the part of the Grafana JSON model read here.
type dashboardModel struct {
	Panels []struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// DashboardRefs lists the metrics the dashboard's queries name.
func DashboardRefs() ([]Ref, error) {
	var d dashboardModel
	if err := json.Unmarshal(Dashboard, &d); err != nil {
		return nil, fmt.Errorf("decode grafana-dashboard.json: %w", err)
	}
	var out []Ref
	for _, p := range d.Panels {
		for _, t := range p.Targets {
			out = appendRefs(out, t.Expr, "panel "+p.Title)
		}
	}
	return out, nil
}

// AlertRefs lists the metrics the alert rules' expressions name.
func AlertRefs() ([]Ref, error) {
	var f struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(Alerts, &f); err != nil {
		return nil, fmt.Errorf("decode alerts.yaml: %w", err)
	}
	var out []Ref
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			out = appendRefs(out, r.Expr, "alert "+r.Alert)
		}
	}
	return out, nil
}

// Refs lists the metrics the dashboard and the alert rules name.
func Refs() ([]Ref, error) {
	d, err := DashboardRefs()
	if err != nil {
		return nil, err
	}
	a, err := AlertRefs()
	if err != nil {
		return nil, err
	}
	return append(d, a...), nil
}

func appendRefs(out []Ref, expr, where string) []Ref {
	for _, m := range selectorRE.FindAllStringSubmatch(expr, -1) {
		r := Ref{Name: m[1], Where: where, Component: component(m[1], m[2])}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// component is the daemon that exports name, read with its label
// matchers sel (see Ref.Component).
func component(name, sel string) string {
	for job, c := range jobComponents {
		if strings.Contains(sel, job) {
			return c
		}
	}
	switch {
	case strings.HasPrefix(name, "understudy_agent_"):
		return Agent
	case strings.HasPrefix(name, "understudy_proxy_"):
		return Proxy
	case strings.HasPrefix(name, "understudy_tls_"):
		return ""
	}
	return Monitor
}
