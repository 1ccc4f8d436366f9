package labtest

import (
	"bytes"
	"crypto/rand"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"text/template"

	"github.com/understudy/understudy/internal/pki"
)

// MakePKI creates a CA under dir/pki with an "agent" server certificate for
// 127.0.0.1 and localhost and a "monitor" client certificate, and the
// bearer token file api.token (mode 0600) of the monitor's plain-HTTP API,
// and returns that directory: what an in-process agent and monitor need for
// mutual TLS, and the monitor's clients to change anything.
func MakePKI(t testing.TB, dir string) string {
	t.Helper()
	certs := filepath.Join(dir, "pki")
	if err := pki.Init(certs); err != nil {
		t.Fatalf("pki init: %v", err)
	}
	if err := pki.Issue(certs, certs, "agent", true, []string{"127.0.0.1", "localhost"}, 0); err != nil {
		t.Fatalf("issue agent certificate: %v", err)
	}
	if err := pki.Issue(certs, certs, "monitor", false, nil, 0); err != nil {
		t.Fatalf("issue monitor certificate: %v", err)
	}
	if err := os.WriteFile(filepath.Join(certs, "api.token"), []byte(rand.Text()+"\n"), 0o600); err != nil {
		t.Fatalf("write the API token: %v", err)
	}
	return certs
}

// InventoryTemplate is an inventory for a test world on host-a: one
// standby agent and the services of .Services (each with Name, FQDN, VM,
// Address and Mode), checked over HTTP. Its API is plain HTTP on loopback
// with the bearer token PKI/api.token (MakePKI): clients built with
// monitorapi.ClientOf of the loaded inventory send it. Fill it with Render; the keys are
// Lab, Listen, DNS, Zone, Key, State, PKI, Gateway, Socket, Standby, Agent,
// Services and Image, and optionally Hypervisor (default host-a: the name
// of the hypervisor at Gateway and Socket), StandbySocket (the standby VM's
// Incus socket: standby[].incus) and Sync (a services[].sync flow mapping
// every service gets, such as "{paths: [/var/www], every: 2s}").
const InventoryTemplate = `{{if .Lab}}lab: true
{{end}}dns: {server: {{.DNS}}, zone: {{.Zone}}, tsig-key-file: {{.Key}}, ttl: 10s}
monitor:
  listen: {{.Listen}}
  state-dir: {{.State}}
  interval: 250ms
  timeout: 100ms
  fails: 3
  passes: 2
  agent-tls: {ca: {{.PKI}}/ca.crt, cert: {{.PKI}}/monitor.crt, key: {{.PKI}}/monitor.key}
  api-token-file: {{.PKI}}/api.token
  flap: {max: 1000, window: 1h}
hypervisors:
  - {name: {{or .Hypervisor "host-a"}}, address: {{.Gateway}}, zone: az1, incus: {socket: {{.Socket}}}}
vms:
{{- range .Services}}
  - {name: {{.VM}}, hypervisor: {{or $.Hypervisor "host-a"}}, instance: {{.VM}}, address: {{.Address}}}
{{- end}}
standby:
  - {name: {{.Standby}}, agent: {{.Agent}}, zone: az1, capacity: {containers: 20, memory: 4GiB}{{with .StandbySocket}}, incus: {socket: {{.}}}{{end}}}
services:
{{- range .Services}}
  - name: {{.Name}}
    fqdn: {{.FQDN}}
    vm: {{.VM}}
    port: 80
    check: {http: {path: /, expect-status: 200}}
    standby: {{$.Standby}}
    mode: {{.Mode}}
    container: {image: {{$.Image}}, limits: {cpu: 1, memory: 64MiB}}
{{- with $.Sync}}
    sync: {{.}}
{{- end}}
{{- end}}
`

// Render executes a text/template and fails t when it does not execute.
func Render(t testing.TB, text string, data any) string {
	t.Helper()
	var b bytes.Buffer
	if err := template.Must(template.New("t").Parse(text)).Execute(&b, data); err != nil {
		t.Fatalf("render template: %v", err)
	}
	return b.String()
}

// Logger returns a logger of the records at level and above for an
// integration test. Every record goes to a file, TestLogDir()/<test>.log,
// kept after the run; the test's own log gets only the last TailLines
// records, and only when the test fails, after its error message, so that
// the reason stays at the top of a long failure. With
// UNDERSTUDY_TEST_LOG=all every record goes to the test's log as it comes
// (go test -v).
func Logger(t testing.TB, level slog.Level) *slog.Logger {
	w := newTailWriter(t)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
