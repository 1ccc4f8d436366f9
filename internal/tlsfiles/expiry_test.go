package tlsfiles

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The collector exports the seconds until each readable certificate's
// notAfter and nothing for a file that does not read.
func TestExpiryCollector(t *testing.T) {
	dir := t.TempDir()
	issue(t, dir)
	cert := filepath.Join(dir, "server.crt")
	notAfter, err := NotAfter(cert)
	if err != nil {
		t.Fatal(err)
	}
	e := NewExpiryCollector(func() []CertFile {
		return []CertFile{{Role: "agent-server", Path: cert}, {Role: "missing", Path: filepath.Join(dir, "none.crt")}}
	})
	e.now = func() time.Time { return notAfter.Add(-90 * time.Second) }
	want := `# HELP understudy_tls_certificate_expiry_seconds Seconds until the notAfter of a certificate this daemon serves or presents (negative once expired), by role and file.
# TYPE understudy_tls_certificate_expiry_seconds gauge
understudy_tls_certificate_expiry_seconds{path="` + cert + `",role="agent-server"} 90
`
	if err := testutil.CollectAndCompare(e, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(e); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
	if _, err := NotAfter(filepath.Join(dir, "ca.key")); err == nil {
		t.Error("NotAfter of a key file: no error")
	}
}
