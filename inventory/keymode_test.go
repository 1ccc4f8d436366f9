package inventory_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/understudy/understudy/inventory"
)

// TestKeyFileModeWarns: a TSIG key file its group or others may read is
// valid for Load (git checkouts make files 0644) but the monitor refuses it,
// so Load warns, naming the field's position and the chmod that fixes it.
func TestKeyFileModeWarns(t *testing.T) {
	doc, err := os.ReadFile("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile("testdata/tsig.key")
	if err != nil {
		t.Fatal(err)
	}
	playbook, err := os.ReadFile("testdata/playbook.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mode os.FileMode
		warn bool
	}{{0o600, false}, {0o400, false}, {0o640, true}, {0o644, true}, {0o604, true}} {
		dir := t.TempDir()
		inv := filepath.Join(dir, "inv.yaml")
		keyFile := filepath.Join(dir, "tsig.key")
		if err := os.WriteFile(inv, doc, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "playbook.yaml"), playbook, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keyFile, key, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(keyFile, tc.mode); err != nil {
			t.Fatal(err)
		}
		got, err := inventory.Load(inv)
		if err != nil {
			t.Fatalf("mode %04o: Load: %v, want a valid inventory", tc.mode, err)
		}
		ws := got.Warnings()
		if !tc.warn {
			if len(ws) != 0 {
				t.Errorf("mode %04o: warnings %v, want none", tc.mode, ws)
			}
			continue
		}
		if len(ws) != 1 {
			t.Fatalf("mode %04o: warnings %v, want one", tc.mode, ws)
		}
		w := ws[0]
		if w.File != inv || w.Line == 0 || w.Col == 0 || w.Path != "dns.tsig-key-file" || !strings.Contains(w.Msg, "chmod 600 "+keyFile) {
			t.Errorf("mode %04o: warning %+v, want it at dns.tsig-key-file in %s saying chmod 600 %s", tc.mode, w, inv, keyFile)
		}
	}
}

// TestAPITLSWithoutClientCertificateWarns: with monitor.api-tls but no
// monitor.api-client-tls, the API's clients present the monitors' own
// certificate, so the API cannot tell them from a monitor; Load says so at
// the position of monitor.api-tls, and says nothing once clients have their
// own certificate.
func TestAPITLSWithoutClientCertificateWarns(t *testing.T) {
	doc, err := os.ReadFile("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const serverTLS = "  api-tls: {ca: ca.crt, cert: monitor-api.crt, key: monitor-api.key}\n"
	const clientTLS = "  api-client-tls: {ca: ca.crt, cert: operator.crt, key: operator.key}\n"
	base := strings.Replace(string(doc), "monitor:\n", "monitor:\n"+serverTLS, 1)
	base = strings.Replace(base, "monitor: http://127.0.0.1:9180", "monitor: https://127.0.0.1:9180", 1)
	inv, err := inventory.Parse("inv.yaml", []byte(base))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	ws := inv.Warnings()
	if len(ws) != 1 || ws[0].Path != "monitor.api-tls" || ws[0].Line != 12 || !strings.Contains(ws[0].Msg, "api-client-tls") {
		t.Fatalf("warnings %v, want one at inv.yaml:12 on monitor.api-tls naming api-client-tls", ws)
	}
	inv, err = inventory.Parse("inv.yaml", []byte(strings.Replace(base, serverTLS, serverTLS+clientTLS, 1)))
	if err != nil {
		t.Fatalf("Parse with api-client-tls: %v", err)
	}
	if ws := inv.Warnings(); len(ws) != 0 {
		t.Errorf("warnings %v with api-client-tls, want none", ws)
	}
}
