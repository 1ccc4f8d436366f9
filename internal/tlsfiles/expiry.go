package tlsfiles

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// CertFile is a certificate a daemon serves or presents: Role says which
// (monitor-api, agent-server, ...), Path is its PEM file.
type CertFile struct {
	Role, Path string
}

// ExpiryCollector exports understudy_tls_certificate_expiry_seconds, the
// seconds until the notAfter of each certificate its files function
// returns, read from disk at each scrape so that a rotated file shows at
// once. A file that does not read has no series (the daemon's own
// handshakes report it).
type ExpiryCollector struct {
	files func() []CertFile
	now   func() time.Time
	desc  *prometheus.Desc
}

// NewExpiryCollector returns a collector of the certificates files returns
// at each scrape.
func NewExpiryCollector(files func() []CertFile) *ExpiryCollector {
	return &ExpiryCollector{files: files, now: time.Now,
		desc: prometheus.NewDesc("understudy_tls_certificate_expiry_seconds",
			"Seconds until the notAfter of a certificate this daemon serves or presents (negative once expired), by role and file.",
			[]string{"role", "path"}, nil)}
}

// Describe implements prometheus.Collector.
func (e *ExpiryCollector) Describe(ch chan<- *prometheus.Desc) { ch <- e.desc }

// Collect implements prometheus.Collector.
func (e *ExpiryCollector) Collect(ch chan<- prometheus.Metric) {
	now := e.now()
	for _, f := range e.files() {
		notAfter, err := NotAfter(f.Path)
		if err != nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(e.desc, prometheus.GaugeValue, notAfter.Sub(now).Seconds(), f.Role, f.Path)
	}
}

// NotAfter reads the notAfter of the first certificate in a PEM file.
func NotAfter(path string) (time.Time, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return time.Time{}, fmt.Errorf("read certificate: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return time.Time{}, fmt.Errorf("certificate %s: no CERTIFICATE PEM block", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse certificate %s: %w", path, err)
	}
	return cert.NotAfter, nil
}
