package drill

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/understudy/understudy/internal/monitorapi"
	"github.com/understudy/understudy/monitor/api"
)

// Monitor is what the drill needs from the monitor daemon's HTTP API.
type Monitor interface {
	// Healthy returns nil when the monitor answers /healthz.
	Healthy(ctx context.Context) error
	// Service returns one service's entry of GET /v1/status.
	Service(ctx context.Context, name string) (ServiceStatus, error)
	// Reset puts the service back on its primary (POST .../reset).
	Reset(ctx context.Context, name, reason string) error
}

// The monitor's status entries, as the API's wire types (package
// monitor/api) define them; the drill reads only part of them.
type (
	// ServiceStatus is the monitor's GET /v1/status entry of one service.
	ServiceStatus = api.ServiceStatus
	// StandbyStatus is the state of the service's standby container.
	StandbyStatus = api.StandbyStatus
	// IncidentStatus is the monitor's summary of one incident.
	IncidentStatus = api.IncidentStatus
	// PhaseStatus is when an incident reached a phase (wall clock).
	PhaseStatus = api.PhaseStatus
)

// HTTPMonitor is a Monitor over the monitor's HTTP API (package
// monitorapi), plain or mutual TLS as its Client says.
type HTTPMonitor struct {
	// Base is the monitor's base URL, e.g. http://127.0.0.1:9180.
	Base string
	// Client defaults to a plain HTTP client with a 10 s timeout; with
	// monitor.api-tls give it a transport with the client certificate.
	Client *http.Client
}

var _ Monitor = (*HTTPMonitor)(nil)

// resetTimeout bounds a reset call: above the 30 s the monitor gives a
// reset to end, so the drill hears its answer (the other calls keep the
// client's own timeout).
const resetTimeout = 45 * time.Second

func (m *HTTPMonitor) api(atLeast time.Duration) (*monitorapi.Client, error) {
	hc := m.Client
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	if hc.Timeout != 0 && hc.Timeout < atLeast {
		c := *hc
		c.Timeout = atLeast
		hc = &c
	}
	return monitorapi.New(m.Base, hc)
}

func (m *HTTPMonitor) call(ctx context.Context, method, path string, in, out any) error {
	return m.callWithin(ctx, 0, method, path, in, out)
}

// callWithin is call with a client timeout of at least atLeast.
func (m *HTTPMonitor) callWithin(ctx context.Context, atLeast time.Duration, method, path string, in, out any) error {
	cl, err := m.api(atLeast)
	if err != nil {
		return err
	}
	if method == http.MethodGet {
		return cl.Get(ctx, path, out)
	}
	return cl.Post(ctx, path, in, out)
}

// Healthy GETs /healthz.
func (m *HTTPMonitor) Healthy(ctx context.Context) error {
	return m.call(ctx, http.MethodGet, "/healthz", nil, nil)
}

// errNoService means the monitor does not list the service.
var errNoService = errors.New("not in the monitor's status")

// Services GETs /v1/status and returns every service's entry.
func (m *HTTPMonitor) Services(ctx context.Context) ([]ServiceStatus, error) {
	var st api.Status
	if err := m.call(ctx, http.MethodGet, "/v1/status", nil, &st); err != nil {
		return nil, fmt.Errorf("monitor status: %w", err)
	}
	return st.Services, nil
}

// Service GETs /v1/status and returns the entry of name.
func (m *HTTPMonitor) Service(ctx context.Context, name string) (ServiceStatus, error) {
	all, err := m.Services(ctx)
	if err != nil {
		return ServiceStatus{}, err
	}
	for _, s := range all {
		if s.Service == name {
			return s, nil
		}
	}
	return ServiceStatus{}, fmt.Errorf("service %q: %w", name, errNoService)
}

// Reset POSTs /v1/services/NAME/reset.
func (m *HTTPMonitor) Reset(ctx context.Context, name, reason string) error {
	body := map[string]string{"reason": reason}
	if err := m.callWithin(ctx, resetTimeout, http.MethodPost, "/v1/services/"+url.PathEscape(name)+"/reset", body, nil); err != nil {
		return fmt.Errorf("reset %q: %w", name, err)
	}
	return nil
}

// LocalAddr turns a listen address into one a local client can dial: an
// empty or wildcard host becomes 127.0.0.1.
func LocalAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
