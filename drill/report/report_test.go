package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/understudy/understudy/drill"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it); got:\n%s", name, got)
	}
}

func TestReportGolden(t *testing.T) {
	cases := map[string]*drill.Result{
		"report-recovered.txt":     fixtureResult(),
		"report-not-recovered.txt": notRecovered(),
		"report-dns-only.txt":      dnsOnly(),
	}
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteReport(&b, r); err != nil {
				t.Fatal(err)
			}
			golden(t, name, b.Bytes())
		})
	}
}

func TestJSONGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, fixtureResult()); err != nil {
		t.Fatal(err)
	}
	golden(t, "result.json", b.Bytes())
}

// notRecovered is a drill whose monitor never opened an incident.
func notRecovered() *drill.Result {
	r := &drill.Result{Service: "api", Inject: drill.VMFreeze, Via: drill.ViaBoth, Mode: "cold", Load: 3, Started: t0,
		Notes: []string{"the monitor opened no incident"}}
	var samples []drill.Sample
	for _, s := range fixtureSamples(drill.PathDNS, drill.PathProxy) {
		if !s.Start.Before(at(300)) {
			s.OK, s.Backend, s.Err = false, "", "timeout"
		}
		samples = append(samples, s)
	}
	drill.Analyze(r, t0, drill.Timeline{Samples: samples, InPlace: at(40), Removed: at(3100), Primary: "10.200.0.11", Body: "web-vm"})
	return r
}

// dnsOnly is a recovered drill through DNS only.
func dnsOnly() *drill.Result {
	r := &drill.Result{Service: "web", Inject: drill.ServiceStop, Via: drill.ViaDNS, Mode: "warm", Load: 3, Started: t0}
	drill.Analyze(r, t0, drill.Timeline{Samples: fixtureSamples(drill.PathDNS), Incident: fixtureIncident(),
		InPlace: at(20), Removed: at(3100), Primary: "10.200.0.11", Body: "web-vm"})
	return r
}

// TestJSONNames pins the field names other tools read.
func TestJSONNames(t *testing.T) {
	for name, r := range map[string]*drill.Result{"recovered": fixtureResult(), "not-recovered": notRecovered()} {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"service", "inject", "via", "verdict", "phases", "requests"} {
				if _, ok := m[k]; !ok {
					t.Errorf("top-level %q missing from %s", k, b)
				}
			}
			if m["verdict"] != r.Verdict || (r.Verdict != drill.Recovered && r.Verdict != drill.NotRecovered) {
				t.Errorf("verdict = %v", m["verdict"])
			}
			phases, _ := m["phases"].(map[string]any)
			for _, k := range []string{"detected", "confirmed", "fenced", "activated", "healthy", "dns_flipped", "first_success_dns", "first_success_proxy"} {
				v, ok := phases[k]
				if !ok {
					t.Errorf("phases.%s missing", k)
					continue
				}
				if _, isNum := v.(float64); v != nil && !isNum {
					t.Errorf("phases.%s = %v (%T), want a number or null", k, v, v)
				}
			}
			reqs, _ := m["requests"].(map[string]any)
			for _, path := range []string{"dns", "proxy"} {
				pc, _ := reqs[path].(map[string]any)
				for _, k := range []string{"ok", "failed"} {
					if _, ok := pc[k].(float64); !ok {
						t.Errorf("requests.%s.%s missing or not a number in %s", path, k, b)
					}
				}
			}
		})
	}
}

func TestAnalyze(t *testing.T) {
	r := fixtureResult()
	want := map[string]*int64{
		"detected": r.Phases.Detected, "dns_flipped": r.Phases.DNSFlipped,
		"first_success_dns": r.Phases.FirstSuccessDNS, "first_success_proxy": r.Phases.FirstSuccessProxy,
	}
	exp := map[string]int64{"detected": 700, "dns_flipped": 1450,
		// the first DNS request after the flip starts at 1460 (client 2: -940+24*100) and takes 4 ms
		"first_success_dns": 1464,
		// held proxy requests are answered at 1462
		"first_success_proxy": 1462,
	}
	for k, p := range want {
		if p == nil || *p != exp[k] {
			t.Errorf("%s = %v, want %d", k, deref(p), exp[k])
		}
	}
	if r.Verdict != drill.Recovered || r.RecoveryMS == nil || *r.RecoveryMS != 1464 {
		t.Errorf("verdict %s in %v ms, want recovered in 1464", r.Verdict, deref(r.RecoveryMS))
	}
	var dnsFailed int
	for _, s := range fixtureSamples(drill.PathDNS) {
		if !s.OK {
			dnsFailed++
		}
	}
	if r.Requests.DNS.Failed != dnsFailed || r.Requests.Proxy.Failed != 0 {
		t.Errorf("requests = %+v, want %d DNS failures and none through the proxy", r.Requests, dnsFailed)
	}
	if nr := notRecovered(); nr.Verdict != drill.NotRecovered || nr.RecoveryMS != nil || nr.Phases.Detected != nil {
		t.Errorf("not recovered: verdict %s, recovery %v, detected %v", nr.Verdict, nr.RecoveryMS, nr.Phases.Detected)
	}
}

// deref shows a phase for a failure message.
func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestReportShowsDNSVerified: with dns.verify the monitor records
// dns-verified, and the drill's phases and report show it after the flip;
// without it there is no such row (it is not a missing phase).
func TestReportShowsDNSVerified(t *testing.T) {
	inc := fixtureIncident()
	inc.Phases = append(inc.Phases, drill.PhaseStatus{Phase: "dns-verified", At: at(1457)})
	r := &drill.Result{Service: "web", Inject: drill.VMStop, Via: drill.ViaBoth, Mode: "warm", Load: 3, Started: t0}
	drill.Analyze(r, t0, drill.Timeline{Samples: fixtureSamples(drill.PathDNS, drill.PathProxy), Incident: inc,
		InPlace: at(310), Removed: at(3100), Primary: "10.200.0.11", Body: "web-vm"})
	if r.Phases.DNSVerified == nil || *r.Phases.DNSVerified != 1457 {
		t.Fatalf("dns_verified = %v, want 1457", deref(r.Phases.DNSVerified))
	}
	var b bytes.Buffer
	if err := WriteReport(&b, r); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^DNS flipped +1450 +\d+\nDNS verified +1457 +7$`).Match(b.Bytes()) {
		t.Errorf("report has no \"DNS verified 1457 +7\" row after the flip:\n%s", b.String())
	}
	b.Reset()
	if err := WriteReport(&b, fixtureResult()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "DNS verified") {
		t.Errorf("a drill without dns.verify reports a DNS verified row:\n%s", b.String())
	}
}
