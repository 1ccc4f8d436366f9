package httpapi

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

// CheckListen refuses a non-loopback address for a plain-HTTP API unless
// the inventory accepts it explicitly (monitor.insecure-api).
func CheckListen(addr string, m inventory.Monitor) error {
	if m.APITLS.IsZero() && !m.InsecureAPI && !inventory.LoopbackListen(addr) {
		return fmt.Errorf("listen on %s: %w", addr, ErrInsecureAPI)
	}
	return nil
}

// LoadToken reads monitor.api-token-file ("" when it is not set).
func LoadToken(m inventory.Monitor) (string, error) {
	if m.APITokenFile == "" {
		return "", nil
	}
	tok, err := monitorapi.LoadToken(m.APITokenFile)
	if err != nil {
		return "", fmt.Errorf("monitor.api-token-file: %w", err)
	}
	return tok, nil
}

// Auth is what the API checks callers against.
type Auth struct {
	// Token returns the bearer token of monitor.api-token-file in force
	// ("" when none); it is read per call, so a reload applies at once.
	Token func() string
	// MTLS: monitor.api-tls is set, so every connection carries a verified
	// client certificate.
	MTLS bool
	// MonitorCN is the common name of the monitors' shared certificate
	// (api-tls.cert): only its holders may send the vantage header.
	MonitorCN string
}

func (a Auth) token() string {
	if a.Token == nil {
		return ""
	}
	return a.Token()
}

// WarnNoCredential says at start when the API can take no change at all.
func (s *Server) WarnNoCredential() {
	if !s.cfg.Auth.MTLS && s.cfg.Auth.token() == "" {
		s.log.Warn("the API refuses every change (failover, reset, migrate, failback, suspect reports of proxies and other monitors): set monitor.api-tls, or monitor.api-token-file for a plain-HTTP API")
	}
}

// authorize applies the rules above before the API's routes (and before a
// follower forwards a call to its leader, which then trusts the follower's
// certificate: the vantage header is dropped here, at the first monitor).
func (s *Server) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(api.VantageHeader) != "" && !s.fromMonitor(r) {
			s.log.Warn("vantage header ignored: the caller has no monitor certificate", "remote", r.RemoteAddr, "path", r.URL.Path)
			r = r.Clone(r.Context())
			r.Header.Del(api.VantageHeader)
		}
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		if err := s.credential(r); err != nil {
			s.metrics.refused.WithLabelValues("credential").Inc()
			w.Header().Set("WWW-Authenticate", `Bearer realm="understudy"`)
			WriteJSON(w, http.StatusUnauthorized, api.Error{Error: err.Error()})
			return
		}
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			s.metrics.refused.WithLabelValues("content-type").Inc()
			WriteJSON(w, http.StatusUnsupportedMediaType, api.Error{Error: fmt.Sprintf("%s %s: want Content-Type: application/json, got %q", r.Method, r.URL.Path, r.Header.Get("Content-Type"))})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// credential checks the credential of a call that changes something.
func (s *Server) credential(r *http.Request) error {
	if s.cfg.Auth.MTLS {
		if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
			return nil
		}
		return fmt.Errorf("%w: a verified client certificate is required", ErrNoCredential)
	}
	want := s.cfg.Auth.token()
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
func (s *Server) fromMonitor(r *http.Request) bool {
	return pki.PeerHasName(r.TLS, s.cfg.Auth.MonitorCN)
}
