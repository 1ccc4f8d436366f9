package drill_test

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/understudy/understudy/drill"
	"github.com/understudy/understudy/drill/report"
	"github.com/understudy/understudy/examples/observability"
	"github.com/understudy/understudy/standby"
)

// TestIntegrationObservability runs a drill in the lab with the standby
// agent, the monitor and the proxy in-process, records it in the monitor's
// drill history as `understudy drill` does, and checks that every metric
// the Grafana dashboard and the alert rules name is exported by the
// component its reference names (its job=~"$..._job" selector, or its
// name: observability.Ref.Component), and that everything they export
// passes promlint.
func TestIntegrationObservability(t *testing.T) {
	refs, err := observability.Refs()
	if err != nil {
		t.Fatal(err)
	}
	w := newLabWorld(t, labBaseObs, []string{"obs"}, []string{"warm"})
	s := w.services[0]
	w.ready(t, s)
	res := w.drill(t, drill.VMStop, s)
	if res.RecoveryMS == nil {
		t.Fatalf("the drill did not recover: %s %v", res.Verdict, res.Notes)
	}
	if err := report.AppendHistory(report.HistoryPath(w.stateDir), res); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var scraped map[string][]byte
	w.waitFor(ctx, "every metric of the dashboard and the rules exported", func(ctx context.Context) error {
		if scraped, err = w.scrapeAll(ctx); err != nil {
			return err
		}
		return missingRefs(refs, scraped)
	})
	sides := make([]string, 0, len(scraped))
	for side := range scraped {
		sides = append(sides, side)
	}
	sort.Strings(sides)
	for _, side := range sides {
		problems, err := promlint.New(bytes.NewReader(scraped[side])).Lint()
		if err != nil {
			t.Fatalf("lint the %s's metrics: %v", side, err)
		}
		for _, p := range problems {
			t.Errorf("%s: promlint: %s: %s", side, p.Metric, p.Text)
		}
		t.Logf("%s exports %d metric families", side, len(metricFamilies(scraped[side])))
	}
}

// missingRefs says which references the component they name does not
// export (a reference without one may come from any), nil when none.
func missingRefs(refs []observability.Ref, scraped map[string][]byte) error {
	families := map[string]map[string]bool{"": {}}
	for side, body := range scraped {
		families[side] = metricFamilies(body)
		for name := range families[side] {
			families[""][name] = true
		}
	}
	var missing []string
	for _, r := range refs {
		if _, ok := r.Family(families[r.Component]); !ok {
			missing = append(missing, fmt.Sprintf("%s (%s, from the %s)", r.Name, r.Where, cmp.Or(r.Component, "any component")))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("not exported where the dashboard or the rules look: %s", strings.Join(missing, ", "))
	}
	return nil
}

// scrapeAll returns the text exposition of the monitor's /metrics, the
// agent's /metrics (over its mutual TLS) and the proxy's registry.
func (w *labWorld) scrapeAll(ctx context.Context) (map[string][]byte, error) {
	out := map[string][]byte{}
	mon, err := scrape(ctx, http.DefaultClient, w.monitor+"/metrics")
	if err != nil {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	out[observability.Monitor] = mon
	tlsCfg, err := standby.ClientTLSConfig(filepath.Join(w.certs, "ca.crt"), filepath.Join(w.certs, "monitor.crt"), filepath.Join(w.certs, "monitor.key"))
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{TLSClientConfig: tlsCfg}
	defer tr.CloseIdleConnections()
	agent, err := scrape(ctx, &http.Client{Transport: tr}, w.agentURL+"/metrics")
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	out[observability.Agent] = agent
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(w.proxyReg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}).
		ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		return nil, fmt.Errorf("proxy: /metrics: %d %s", rec.Code, rec.Body)
	}
	out[observability.Proxy] = rec.Body.Bytes()
	return out, nil
}

func scrape(ctx context.Context, c *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

// metricFamilies are the names of a text exposition's "# TYPE" lines.
func metricFamilies(body []byte) map[string]bool {
	out := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			out[f[2]] = true
		}
	}
	return out
}
