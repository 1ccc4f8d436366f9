package standby

import (
	"crypto/tls"

	"github.com/understudy/understudy/internal/tlsfiles"
	"github.com/understudy/understudy/standby/config"
)

// certReloader serves the agent's TLS material (package tlsfiles): files
// whose modification time changed are read again at the next handshake,
// and Reload (SIGHUP) reads them at once. A failed reload keeps the
// previous material.
type certReloader struct {
	*tlsfiles.Server
}

func newCertReloader(files config.TLSFiles) (*certReloader, error) {
	s, err := tlsfiles.NewServer(files.Cert, files.Key, files.ClientCA)
	if err != nil {
		return nil, err
	}
	return &certReloader{s}, nil
}

// serverConfig is the agent's tls.Config: mutual TLS, TLS 1.3, material
// chosen per handshake so rotated files take effect without a restart.
func (r *certReloader) serverConfig() *tls.Config { return r.Config() }

// ClientTLSConfig builds the tls.Config a monitor uses to reach agents: ca
// verifies the agent's server certificate, cert and key are the client
// certificate the agent requires. The key pair is read again at each
// handshake when its files changed, so rotated client certificates apply
// without a restart (tlsfiles.Client).
func ClientTLSConfig(ca, cert, key string) (*tls.Config, error) {
	return tlsfiles.Client(ca, cert, key)
}
