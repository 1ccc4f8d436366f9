// Package pki creates the small certificate authority and the certificates
// understudy uses for mutual TLS between the monitor and the standby agents,
// and on the monitor's own API (`understudy certs init` and `understudy
// certs issue`).
//
// It writes PEM files: ca.crt/ca.key for the CA, NAME.crt/NAME.key for each
// issued certificate, keys with mode 0600. Keys are ECDSA P-256. It does not
// revoke certificates, run an online CA, or distribute files: rotation is done
// by issuing new files from the same CA and letting the processes reload them
// (see standby/README.md).
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/understudy/understudy/internal/atomicfile"
)

// Errors callers branch on.
var (
	// ErrExists is returned when an output file exists and overwriting was not forced.
	ErrExists = errors.New("file exists (use force to overwrite)")
	// ErrInvalid is returned for an invalid name, host or validity.
	ErrInvalid = errors.New("invalid certificate request")
)

// CAValidity is how long a CA created by Init is valid.
const CAValidity = 10 * 365 * 24 * time.Hour

// File names of the CA inside its directory.
const (
	CACertFile = "ca.crt"
	CAKeyFile  = "ca.key"
)

// Options change how files are written.
type Options struct {
	// Force overwrites existing files.
	Force bool
	// Now is the issue time; zero means time.Now().
	Now time.Time
}

func (o Options) now() time.Time {
	if o.Now.IsZero() {
		return time.Now()
	}
	return o.Now
}

// Init creates a new CA in dir (ca.crt, ca.key), creating dir when needed.
// It refuses to overwrite an existing CA; see InitWith.
func Init(dir string) error { return InitWith(dir, Options{}) }

// InitWith is Init with options (force overwrite, issue time).
func InitWith(dir string, opts Options) error {
	certPath, keyPath := filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	if err := checkFree(opts.Force, certPath, keyPath); err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return err
	}
	now := opts.now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "understudy CA", Organization: []string{"understudy"}},
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("create CA certificate: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create CA directory: %w", err)
	}
	return writePair(certPath, keyPath, der, key)
}

// IssueRequest describes one certificate to issue.
type IssueRequest struct {
	// Name is the common name and the base of the file names (NAME.crt, NAME.key).
	Name string
	// Server issues a server certificate (ServerAuth, with Hosts as SANs);
	// otherwise a client certificate (ClientAuth).
	Server bool
	// AlsoClient, with Server, makes the certificate a client certificate
	// too (ServerAuth and ClientAuth): a monitor's API certificate, which
	// it also presents to the other monitors (monitor.api-tls).
	AlsoClient bool
	// Hosts are DNS names or IP addresses; required for server certificates.
	Hosts []string
	// Validity is how long the certificate is valid (default one year).
	Validity time.Duration
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// Issue signs a certificate with the CA in caDir and writes name.crt and
// name.key into outDir: a server certificate (ServerAuth, hosts as SANs) when
// server is true, else a client certificate (ClientAuth). A zero validity means
// one year. It refuses to overwrite existing files; see IssueWith.
func Issue(caDir, outDir, name string, server bool, hosts []string, validity time.Duration) error {
	_, _, err := IssueWith(caDir, outDir, IssueRequest{Name: name, Server: server, Hosts: hosts, Validity: validity}, Options{})
	return err
}

// IssueWith is Issue with a request struct and options. It returns the paths written.
func IssueWith(caDir, outDir string, req IssueRequest, opts Options) (certPath, keyPath string, err error) {
	if !nameRE.MatchString(req.Name) {
		return "", "", fmt.Errorf("%w: name %q must be 1-63 letters, digits, '.', '_' or '-'", ErrInvalid, req.Name)
	}
	if req.Server && len(req.Hosts) == 0 {
		return "", "", fmt.Errorf("%w: a server certificate needs at least one host", ErrInvalid)
	}
	if req.AlsoClient && !req.Server {
		return "", "", fmt.Errorf("%w: AlsoClient applies to a server certificate", ErrInvalid)
	}
	if req.Validity < 0 {
		return "", "", fmt.Errorf("%w: negative validity", ErrInvalid)
	}
	if req.Validity == 0 {
		req.Validity = 365 * 24 * time.Hour
	}
	caCert, caKey, err := LoadCA(caDir)
	if err != nil {
		return "", "", err
	}
	certPath, keyPath = filepath.Join(outDir, req.Name+".crt"), filepath.Join(outDir, req.Name+".key")
	if err := checkFree(opts.Force, certPath, keyPath); err != nil {
		return "", "", err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("generate key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return "", "", err
	}
	now := opts.now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: req.Name, Organization: []string{"understudy"}},
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     now.Add(req.Validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if tmpl.NotAfter.After(caCert.NotAfter) {
		tmpl.NotAfter = caCert.NotAfter
	}
	if req.Server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		if req.AlsoClient {
			tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
		}
		for _, h := range req.Hosts {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else if h != "" {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return "", "", fmt.Errorf("sign certificate %q: %w", req.Name, err)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", "", fmt.Errorf("create output directory: %w", err)
	}
	if err := writePair(certPath, keyPath, der, key); err != nil {
		return "", "", err
	}
	return certPath, keyPath, nil
}

// LoadCA reads ca.crt and ca.key from dir.
func LoadCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, CACertFile))
	if err != nil {
		return nil, nil, fmt.Errorf("read CA certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, nil, fmt.Errorf("read CA key: %w", err)
	}
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, nil, fmt.Errorf("parse CA certificate %s: no CERTIFICATE block", CACertFile)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, nil, fmt.Errorf("parse CA key %s: no PEM block", CAKeyFile)
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("parse CA key: %w", err)
	}
	if !cert.IsCA {
		return nil, nil, fmt.Errorf("%w: %s is not a CA certificate", ErrInvalid, CACertFile)
	}
	return cert, key, nil
}

func checkFree(force bool, paths ...string) error {
	if force {
		return nil
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("write %s: %w", p, ErrExists)
		}
	}
	return nil
}

func newSerial() (*big.Int, error) {
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generate serial number: %w", err)
	}
	return s, nil
}

func writePair(certPath, keyPath string, der []byte, key *ecdsa.PrivateKey) error {
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode key: %w", err)
	}
	if err := atomicfile.Write(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return err
	}
	return atomicfile.Write(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}
