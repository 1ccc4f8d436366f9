package inventory_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/understudy/understudy/inventory"
)

// apiTLSInventory is examples/minimal.yaml without its api-tls and
// api-client-tls lines, with
// monitor lines added after "passes:" and tsig-key-file made absolute,
// written to a temporary directory.
func apiTLSInventory(t *testing.T, monitorLines string) string {
	t.Helper()
	b, err := os.ReadFile("../examples/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := filepath.Abs("../examples/keys/tsig.key")
	text := strings.Replace(string(b), "tsig-key-file: keys/tsig.key", "tsig-key-file: "+key, 1)
	var kept []string
	for _, line := range strings.SplitAfter(text, "\n") {
		if !strings.HasPrefix(line, "  api-tls:") && !strings.HasPrefix(line, "  api-client-tls:") {
			kept = append(kept, line)
		}
	}
	text = strings.Join(kept, "")
	i := strings.Index(text, "  passes: 2")
	if i < 0 {
		t.Fatal("minimal.yaml has no passes line")
	}
	i += strings.Index(text[i:], "\n") + 1
	text = text[:i] + monitorLines + text[i:]
	path := filepath.Join(t.TempDir(), "inv.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMonitorAPITLS(t *testing.T) {
	tests := []struct {
		name       string
		lines      string
		scheme     string
		url        string
		clientCert string // file name of ClientTLS().Cert, "" for none
		proxy      string // proxy.monitor after defaults
	}{
		{"plain HTTP without api-tls", "", "http", "http://127.0.0.1:9180", "", "http://127.0.0.1:9180"},
		{
			"api-tls alone: clients use the monitor's certificate",
			"  api-tls: {ca: pki/ca.crt, cert: pki/monitor-api.crt, key: pki/monitor-api.key}\n",
			"https", "https://127.0.0.1:9180", "monitor-api.crt", "https://127.0.0.1:9180",
		},
		{
			"api-client-tls for the clients",
			"  api-tls: {ca: pki/ca.crt, cert: pki/monitor-api.crt, key: pki/monitor-api.key}\n" +
				"  api-client-tls: {ca: pki/ca.crt, cert: pki/operator.crt, key: pki/operator.key}\n",
			"https", "https://127.0.0.1:9180", "operator.crt", "https://127.0.0.1:9180",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := apiTLSInventory(t, tc.lines)
			inv, err := inventory.Load(path)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			m := inv.Monitor
			if got := m.APIScheme(); got != tc.scheme {
				t.Errorf("APIScheme = %q, want %q", got, tc.scheme)
			}
			if got := m.APIURL(); got != tc.url {
				t.Errorf("APIURL = %q, want %q", got, tc.url)
			}
			ct := m.ClientTLS()
			switch {
			case tc.clientCert == "" && !ct.IsZero():
				t.Errorf("ClientTLS = %+v, want none", ct)
			case tc.clientCert != "" && ct.Cert != filepath.Join(filepath.Dir(path), "pki", tc.clientCert):
				t.Errorf("ClientTLS().Cert = %q, want pki/%s made absolute", ct.Cert, tc.clientCert)
			case tc.clientCert != "" && (ct.CA != filepath.Join(filepath.Dir(path), "pki/ca.crt") || !strings.HasSuffix(ct.Key, ".key")):
				t.Errorf("ClientTLS = %+v, want the CA and key of the same section", ct)
			}
			if len(inv.Proxy.Monitors) != 1 || inv.Proxy.Monitors[0] != tc.proxy {
				t.Errorf("proxy.monitor = %v, want [%s]", inv.Proxy.Monitors, tc.proxy)
			}
		})
	}
}

// TestMonitorAPITLSProxyHTTPS: an explicit https proxy.monitor is accepted
// with api-tls (an http one is refused: testdata/invalid-api-tls-proxy-http.yaml).
func TestMonitorAPITLSProxyHTTPS(t *testing.T) {
	path := apiTLSInventory(t, "  api-tls: {ca: /p/ca.crt, cert: /p/m.crt, key: /p/m.key}\n")
	b, _ := os.ReadFile(path)
	b = append(b, []byte("proxy: {listen: 127.0.0.1:8080, monitor: [https://127.0.0.1:9180, HTTPS://127.0.0.1:9181]}\n")...)
	if _, err := inventory.Parse("inv.yaml", b); err != nil {
		t.Errorf("Parse: %v", err)
	}
}

func TestMonitorAPIURL(t *testing.T) {
	for _, tc := range []struct {
		listen string
		tls    bool
		want   string
	}{
		{"127.0.0.1:9180", false, "http://127.0.0.1:9180"},
		{":9180", false, "http://127.0.0.1:9180"},
		{"0.0.0.0:9180", false, "http://127.0.0.1:9180"},
		{"[::]:9180", true, "https://127.0.0.1:9180"},
		{"[::1]:9180", false, "http://[::1]:9180"},
		{"mon.lab:80", true, "https://mon.lab:80"},
	} {
		m := inventory.Monitor{Listen: tc.listen}
		if tc.tls {
			m.APITLS = inventory.TLSFiles{CA: "ca", Cert: "c", Key: "k"}
		}
		if got := m.APIURL(); got != tc.want {
			t.Errorf("APIURL of %q (api-tls %v) = %q, want %q", tc.listen, tc.tls, got, tc.want)
		}
	}
}

func TestLoopbackListen(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:9180": true, "127.0.0.2:9180": true, "[::1]:9180": true, "localhost:9180": true,
		":9180": false, "0.0.0.0:9180": false, "[::]:9180": false, "10.0.0.5:9180": false,
		"mon.lab:9180": false, "127.0.0.1": false,
	} {
		if got := inventory.LoopbackListen(addr); got != want {
			t.Errorf("LoopbackListen(%q) = %v, want %v", addr, got, want)
		}
	}
}
