// Package tlsfiles turns PEM files on disk into tls.Configs for mutual TLS
// that follow the files: a rotated certificate, key or CA takes effect at the
// next handshake, without a restart. Both sides require TLS 1.3.
//
// A server (NewServer) presents its certificate and requires a client
// certificate signed by its client CA; a client (Client) verifies the server
// against a CA and presents its own certificate. It is shared by the standby
// agent's API and the monitor's API and by their clients. ExpiryCollector
// exports the seconds left on the certificates a daemon serves or presents.
//
// It does not create certificates (package pki does), watch directories, or
// revoke anything: a file counts as changed when its modification time does,
// and a change that does not load keeps the previous material.
package tlsfiles

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/understudy/understudy/internal/pki"
)

// Server serves a certificate and a client CA and reloads them from disk
// when a file's modification time changes (checked at each handshake) or
// when Reload is called (e.g. on SIGHUP). A failed reload keeps the
// previous material. Safe for concurrent use.
type Server struct {
	cert, key, clientCA string

	mu     sync.Mutex
	mtimes [3]time.Time
	conf   *tls.Config
}

// NewServer loads the server certificate and key and the CA whose client
// certificates the server accepts.
func NewServer(cert, key, clientCA string) (*Server, error) {
	s := &Server{cert: cert, key: key, clientCA: clientCA}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload reads the certificate, key and client CA again.
func (s *Server) Reload() error {
	m, err := mtimes(s.cert, s.key, s.clientCA)
	if err != nil {
		return err
	}
	conf, err := s.load()
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.conf, s.mtimes = conf, [3]time.Time(m)
	s.mu.Unlock()
	return nil
}

func (s *Server) load() (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(s.cert, s.key)
	if err != nil {
		return nil, fmt.Errorf("load server certificate: %w", err)
	}
	pool, err := pki.LoadPool(s.clientCA)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{pair},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
	}, nil
}

// current returns the config, reloading first when a file changed.
func (s *Server) current() *tls.Config {
	s.mu.Lock()
	old, conf := s.mtimes, s.conf
	s.mu.Unlock()
	if m, err := mtimes(s.cert, s.key, s.clientCA); err == nil && [3]time.Time(m) != old {
		if err := s.Reload(); err == nil {
			s.mu.Lock()
			conf = s.conf
			s.mu.Unlock()
		}
	}
	return conf
}

// Config is the server's tls.Config: mutual TLS (a verified client
// certificate is required for every connection), TLS 1.3, the material
// chosen per handshake so rotated files take effect without a restart.
func (s *Server) Config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		ClientAuth: tls.RequireAndVerifyClientCert,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return s.current(), nil
		},
	}
}

// Client builds a client's tls.Config: ca verifies the server's
// certificate, cert and key are the client certificate the server
// requires. The key pair is read again at a handshake when its files
// changed, so rotated client certificates apply without a restart; the CA
// is read once.
func Client(ca, cert, key string) (*tls.Config, error) {
	pool, err := pki.LoadPool(ca)
	if err != nil {
		return nil, err
	}
	kp := &keyPair{cert: cert, key: key}
	if _, err := kp.get(); err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		RootCAs:    pool,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return kp.get()
		},
	}, nil
}

// keyPair loads a key pair and reloads it when either file's mtime changes.
type keyPair struct {
	cert, key string

	mu     sync.Mutex
	mtimes [2]time.Time
	pair   *tls.Certificate
}

func (k *keyPair) get() (*tls.Certificate, error) {
	m, err := mtimes(k.cert, k.key)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.pair != nil && [2]time.Time(m) == k.mtimes {
		return k.pair, nil
	}
	pair, err := tls.LoadX509KeyPair(k.cert, k.key)
	if err != nil {
		if k.pair != nil {
			return k.pair, nil // keep the last good pair during a half-written rotation
		}
		return nil, fmt.Errorf("load client certificate: %w", err)
	}
	k.pair, k.mtimes = &pair, [2]time.Time(m)
	return k.pair, nil
}

// mtimes returns the modification times of paths.
func mtimes(paths ...string) ([]time.Time, error) {
	m := make([]time.Time, len(paths))
	for i, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("stat %s: %w", p, err)
		}
		m[i] = st.ModTime()
	}
	return m, nil
}
