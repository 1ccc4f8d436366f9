package pki

import (
	"crypto/x509"
	"fmt"
	"os"
)

// LoadPool reads the PEM CA certificates in path into a pool; a file
// without any certificate is an error.
func LoadPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA certificates: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("read CA certificates %s: no PEM certificate found", path)
	}
	return pool, nil
}
