package standby

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/understudy/understudy/internal/pki"
)

// certReloader serves the agent's TLS material and reloads it from disk when
// a file's modification time changes (checked at each handshake) or when
// Reload is called (SIGHUP). A failed reload keeps the previous material.
type certReloader struct {
	files TLSFiles

	mu     sync.Mutex
	mtimes [3]time.Time
	conf   *tls.Config
}

func newCertReloader(files TLSFiles) (*certReloader, error) {
	r := &certReloader{files: files}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *certReloader) stat() ([3]time.Time, error) {
	var m [3]time.Time
	for i, p := range []string{r.files.Cert, r.files.Key, r.files.ClientCA} {
		st, err := os.Stat(p)
		if err != nil {
			return m, fmt.Errorf("stat %s: %w", p, err)
		}
		m[i] = st.ModTime()
	}
	return m, nil
}

// Reload reads the certificate, key and client CA again.
func (r *certReloader) Reload() error {
	m, err := r.stat()
	if err != nil {
		return err
	}
	conf, err := r.load()
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.conf, r.mtimes = conf, m
	r.mu.Unlock()
	return nil
}

func (r *certReloader) load() (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(r.files.Cert, r.files.Key)
	if err != nil {
		return nil, fmt.Errorf("load server certificate: %w", err)
	}
	pool, err := pki.LoadPool(r.files.ClientCA)
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
func (r *certReloader) current() *tls.Config {
	r.mu.Lock()
	old, conf := r.mtimes, r.conf
	r.mu.Unlock()
	if m, err := r.stat(); err == nil && m != old {
		if err := r.Reload(); err == nil {
			r.mu.Lock()
			conf = r.conf
			r.mu.Unlock()
		}
	}
	return conf
}

// serverConfig is the agent's tls.Config: mutual TLS, TLS 1.3, material
// chosen per handshake so rotated files take effect without a restart.
func (r *certReloader) serverConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		ClientAuth: tls.RequireAndVerifyClientCert,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return r.current(), nil
		},
	}
}

// ClientTLSConfig builds the tls.Config a monitor uses to reach agents: ca
// verifies the agent's server certificate, cert and key are the client
// certificate the agent requires. The key pair is read again at each
// handshake when its files changed, so rotated client certificates apply
// without a restart.
func ClientTLSConfig(ca, cert, key string) (*tls.Config, error) {
	pool, err := pki.LoadPool(ca)
	if err != nil {
		return nil, err
	}
	kp := &keyPairReloader{cert: cert, key: key}
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

// keyPairReloader loads a key pair and reloads it when either file's mtime changes.
type keyPairReloader struct {
	cert, key string

	mu     sync.Mutex
	mtimes [2]time.Time
	pair   *tls.Certificate
}

func (k *keyPairReloader) get() (*tls.Certificate, error) {
	var m [2]time.Time
	for i, p := range []string{k.cert, k.key} {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("stat %s: %w", p, err)
		}
		m[i] = st.ModTime()
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.pair != nil && m == k.mtimes {
		return k.pair, nil
	}
	pair, err := tls.LoadX509KeyPair(k.cert, k.key)
	if err != nil {
		if k.pair != nil {
			return k.pair, nil // keep the last good pair during a half-written rotation
		}
		return nil, fmt.Errorf("load client certificate: %w", err)
	}
	k.pair, k.mtimes = &pair, m
	return k.pair, nil
}
