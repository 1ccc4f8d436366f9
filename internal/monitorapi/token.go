package monitorapi

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/understudy/understudy/inventory"
)

// ErrTokenFile: a bearer token file (monitor.api-token-file) that cannot be
// used: group or others may read it, or it holds no token. Its content is
// never part of the error.
var ErrTokenFile = errors.New("unusable API token file")

// LoadToken reads the bearer token of a plain-HTTP monitor API from path:
// the file's first line, without surrounding white space. The file must be
// readable by its owner only (mode 0600 or 0400): a token others can read
// authenticates nobody.
func LoadToken(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("API token file: %w", err)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("API token file %s has mode %04o, want 0600 (chmod 600 %s): %w", path, perm, path, ErrTokenFile)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("API token file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	tok := strings.TrimSpace(line)
	if tok == "" {
		return "", fmt.Errorf("API token file %s is empty: %w", path, ErrTokenFile)
	}
	return tok, nil
}

// bearerPrefix starts the Authorization header of a token.
const bearerPrefix = "Bearer "

// BearerToken is the token of r's "Authorization: Bearer TOKEN" header, or
// "" when it has none.
func BearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) <= len(bearerPrefix) || !strings.EqualFold(h[:len(bearerPrefix)], bearerPrefix) {
		return ""
	}
	return strings.TrimSpace(h[len(bearerPrefix):])
}

// WithToken returns a copy of hc whose requests carry "Authorization:
// Bearer token" unless they have an Authorization header already (a
// forwarded call keeps its caller's). An empty token returns hc itself.
func WithToken(hc *http.Client, token string) *http.Client {
	if token == "" {
		return hc
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	out := *hc
	out.Transport = &tokenTransport{base: base, token: token}
	return &out
}

// tokenTransport adds the bearer token to requests.
type tokenTransport struct {
	base  http.RoundTripper
	token string
}

// RoundTrip implements http.RoundTripper; it never changes the caller's request.
func (t *tokenTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("Authorization") != "" {
		return t.base.RoundTrip(r)
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", bearerPrefix+t.token)
	return t.base.RoundTrip(r)
}

// CloseIdleConnections closes the idle connections of the transport below.
func (t *tokenTransport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// ClientFor is the *http.Client of a client of the monitor's API that
// presents files (its client certificate, zero for plain HTTP) and, when
// tokenFile is set, the bearer token in it (see LoadToken).
func ClientFor(files inventory.TLSFiles, tokenFile string) (*http.Client, error) {
	conf, err := TLSConfig(files)
	if err != nil {
		return nil, err
	}
	hc := HTTPClient(conf)
	if tokenFile == "" {
		return hc, nil
	}
	tok, err := LoadToken(tokenFile)
	if err != nil {
		return nil, err
	}
	return WithToken(hc, tok), nil
}

// ClientOf is ClientFor with what the inventory gives a client of its
// monitor: monitor.api-client-tls (else api-tls) and monitor.api-token-file.
func ClientOf(m inventory.Monitor) (*http.Client, error) {
	return ClientFor(m.ClientTLS(), m.APITokenFile)
}
