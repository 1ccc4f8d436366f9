package monitor

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"mime"
	"net/http"

	"github.com/understudy/understudy/internal/monitorapi"
	"github.com/understudy/understudy/internal/pki"
	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor/api"
)

// Who may act through the API:
//   - reads (GET, HEAD) need what the listener needs: a client certificate
//     with monitor.api-tls, nothing without it;
//   - every other call changes something (suspect, failover, reset,
//     migrate, failback) and needs a credential even on loopback: the
//     verified client certificate with monitor.api-tls, else the bearer
//     token of monitor.api-token-file; with neither set it is refused.
//     Its body, if any, must be declared Content-Type: application/json, so
//     that a browser's cross-site form or no-CORS fetch cannot post;
//   - the vantage header (a follower's report) counts only from a monitor's
//     certificate (pki.PeerHasName with the common name of api-tls.cert).

// ErrNoCredential: a call that changes something came without a valid
// credential (answered 401).
var ErrNoCredential = errors.New("no valid credential")

// ErrInsecureAPI: the API would listen beyond loopback without mutual TLS
// and monitor.insecure-api is not set.
var ErrInsecureAPI = errors.New("the API would be reachable from other machines without monitor.api-tls (set monitor.insecure-api: true to accept that)")

// checkListen refuses a non-loopback address for a plain-HTTP API unless
// the inventory accepts it explicitly (monitor.insecure-api).
func checkListen(addr string, m inventory.Monitor) error {
	if m.APITLS.IsZero() && !m.InsecureAPI && !inventory.LoopbackListen(addr) {
		return fmt.Errorf("listen on %s: %w", addr, ErrInsecureAPI)
	}
	return nil
}

// warnNoCredential says at start when the API can take no change at all.
func (c *Controller) warnNoCredential() {
	c.mu.RLock()
	tok := c.apiToken
	c.mu.RUnlock()
	if !c.mtls && tok == "" {
		c.log.Warn("the API refuses every change (failover, reset, migrate, failback, suspect reports of proxies and other monitors): set monitor.api-tls, or monitor.api-token-file for a plain-HTTP API")
	}
}

// loadAPIToken reads monitor.api-token-file ("" when it is not set).
func loadAPIToken(m inventory.Monitor) (string, error) {
	if m.APITokenFile == "" {
		return "", nil
	}
	tok, err := monitorapi.LoadToken(m.APITokenFile)
	if err != nil {
		return "", fmt.Errorf("monitor.api-token-file: %w", err)
	}
	return tok, nil
}

// authorize applies the rules above before the API's routes (and before a
// follower forwards a call to its leader, which then trusts the follower's
// certificate: the vantage header is dropped here, at the first monitor).
func (c *Controller) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(api.VantageHeader) != "" && !c.fromMonitor(r) {
			c.log.Warn("vantage header ignored: the caller has no monitor certificate", "remote", r.RemoteAddr, "path", r.URL.Path)
			r = r.Clone(r.Context())
			r.Header.Del(api.VantageHeader)
		}
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		if err := c.credential(r); err != nil {
			c.metrics.refused.WithLabelValues("credential").Inc()
			w.Header().Set("WWW-Authenticate", `Bearer realm="understudy"`)
			writeJSON(w, http.StatusUnauthorized, api.Error{Error: err.Error()})
			return
		}
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			c.metrics.refused.WithLabelValues("content-type").Inc()
			writeJSON(w, http.StatusUnsupportedMediaType, api.Error{Error: fmt.Sprintf("%s %s: want Content-Type: application/json, got %q", r.Method, r.URL.Path, r.Header.Get("Content-Type"))})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// credential checks the credential of a call that changes something.
func (c *Controller) credential(r *http.Request) error {
	if c.mtls {
		if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
			return nil
		}
		return fmt.Errorf("%w: a verified client certificate is required", ErrNoCredential)
	}
	c.mu.RLock()
	want := c.apiToken
	c.mu.RUnlock()
	got := monitorapi.BearerToken(r)
	switch {
	case want == "":
		return fmt.Errorf("%w: this monitor takes no changes through its API: set monitor.api-tls (mutual TLS) or monitor.api-token-file", ErrNoCredential)
	case got == "":
		return fmt.Errorf("%w: send Authorization: Bearer with the token of monitor.api-token-file", ErrNoCredential)
	case subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1:
		return fmt.Errorf("%w: the bearer token does not match monitor.api-token-file", ErrNoCredential)
	}
	return nil
}

// fromMonitor reports whether r came from another monitor: over mutual TLS,
// with a certificate named like this monitor's own.
func (c *Controller) fromMonitor(r *http.Request) bool {
	return pki.PeerHasName(r.TLS, c.monitorCN)
}

// peerHeader is the header of this monitor's own calls to its leader: the
// forwarded mark and, without api-tls, the bearer token.
func (c *Controller) peerHeader() http.Header {
	hdr := http.Header{}
	hdr.Set(api.ForwardedHeader, c.name)
	c.mu.RLock()
	tok := c.apiToken
	c.mu.RUnlock()
	if tok != "" && !c.mtls {
		hdr.Set("Authorization", "Bearer "+tok)
	}
	return hdr
}
