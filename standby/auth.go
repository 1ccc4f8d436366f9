package standby

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"slices"
)

// monitorOnly lets a request through only when its verified client
// certificate is a monitor's (by common name or DNS SAN in
// tls.monitor-names). The TLS layer already proved the certificate is from
// tls.client-ca and valid for client authentication; any such certificate
// may read and probe, but an operator's or a proxy's must not be able to
// send an epoch (2^64-1 would lock every real monitor out for good) or set
// a container's config.
func (a *Agent) monitorOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := a.checkMonitor(r); err != nil {
			a.metrics.refused.Inc()
			a.log.Warn("refused a request from a non-monitor certificate", "method", r.Method, "path", r.URL.Path, "err", err)
			writeError(w, err)
			return
		}
		h(w, r)
	}
}

func (a *Agent) checkMonitor(r *http.Request) error {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return fmt.Errorf("%w: no verified client certificate", ErrForbidden)
	}
	cert := r.TLS.VerifiedChains[0][0]
	if !isMonitorCert(cert, a.cfg.TLS.Monitors()) {
		return fmt.Errorf("%w: client certificate %q is not one of the monitors %q (tls.monitor-names)",
			ErrForbidden, cert.Subject.CommonName, a.cfg.TLS.Monitors())
	}
	return nil
}

// isMonitorCert reports whether the verified client certificate names a
// monitor. Its client-auth usage was checked by the handshake.
func isMonitorCert(cert *x509.Certificate, names []string) bool {
	if slices.Contains(names, cert.Subject.CommonName) {
		return true
	}
	for _, n := range cert.DNSNames {
		if slices.Contains(names, n) {
			return true
		}
	}
	return false
}
