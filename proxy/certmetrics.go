package proxy

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/understudy/understudy/internal/tlsfiles"
)

// CertExpiryCollector exports understudy_tls_certificate_expiry_seconds for
// the client certificate at certPath that the proxy presents to the
// monitors (role proxy-monitor-client), read at each scrape so a rotated
// file shows. `understudy proxy` registers it when the proxy has one.
func CertExpiryCollector(certPath string) prometheus.Collector {
	return tlsfiles.NewExpiryCollector(func() []tlsfiles.CertFile {
		return []tlsfiles.CertFile{{Role: "proxy-monitor-client", Path: certPath}}
	})
}
