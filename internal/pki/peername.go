package pki

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
)

// The monitors' certificate is told from the other certificates of the same
// CA (operators', proxies') by its common name: a peer is a monitor when its
// verified certificate has the common name of this monitor's own
// certificate. The embedded etcd's peer check (package ha) and the monitor
// API's vantage reports (package monitor) both apply this rule.

// CommonName reads the common name of the first certificate in a PEM file;
// a certificate without one is an error (it could not be told apart).
func CommonName(certFile string) (string, error) {
	b, err := os.ReadFile(certFile)
	if err != nil {
		return "", fmt.Errorf("read certificate: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return "", fmt.Errorf("certificate %s: no PEM block", certFile)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "", fmt.Errorf("certificate %s: %w", certFile, err)
	}
	if cert.Subject.CommonName == "" {
		return "", fmt.Errorf("certificate %s has no common name to allow peers by", certFile)
	}
	return cert.Subject.CommonName, nil
}

// PeerHasName reports whether the connection's peer presented a certificate
// that verified and whose common name is cn (never for an empty cn).
func PeerHasName(cs *tls.ConnectionState, cn string) bool {
	if cs == nil || cn == "" || len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return false
	}
	return cs.VerifiedChains[0][0].Subject.CommonName == cn
}
