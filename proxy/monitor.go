package proxy

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/understudy/understudy/internal/monitorapi"
	"github.com/understudy/understudy/monitor/api"
)

// Placement is where a service runs, as one line of the monitor's
// placement stream says (the API's wire type); the proxy uses only
// Service, Address, Epoch, Held, FailingOver and Unavailable. Held: the
// service is moving (a migration or failback); FailingOver: its failover
// runs; with either, new requests wait until a placement without it
// arrives, then go to that placement's address. Unavailable: they get 503
// at once.
type Placement = api.Placement

// SuspectReport is the body of a suspect report to the monitor.
type SuspectReport = api.SuspectRequest

// Monitor is what the proxy needs from the monitor daemon.
type Monitor interface {
	// WatchPlacements calls fn for every placement the monitor sends, first
	// the current ones, then each change, until the stream breaks or ctx
	// ends; it returns why it stopped. fn is called from one goroutine.
	WatchPlacements(ctx context.Context, fn func(Placement)) error
	// ReportSuspect tells the monitor the proxy found a service's backend
	// down.
	ReportSuspect(ctx context.Context, service string, r SuspectReport) error
}

// MonitorClient is the proxy's client of the monitor's proxy-facing API,
// through internal/monitorapi: GET /v1/placements?watch=1
// (newline-delimited JSON) and POST /v1/services/{name}/suspect.
type MonitorClient struct {
	api  *monitorapi.Client
	idle time.Duration
}

// DefaultStreamIdle is how long a placement stream may stay silent before
// the client drops it and reconnects; the monitor sends a keepalive line
// every 15 s.
const DefaultStreamIdle = monitorapi.DefaultStreamIdle

var _ Monitor = (*MonitorClient)(nil)

// NewMonitorClient returns a client of the monitor at base (e.g.
// "http://127.0.0.1:9400"). hc may be nil for a default client; it must not
// have a Timeout, which would cut the stream. With monitor.api-tls, hc
// carries the client certificate (monitorapi.HTTPClient).
func NewMonitorClient(base string, hc *http.Client) (*MonitorClient, error) {
	if hc == nil {
		hc = &http.Client{}
	}
	c, err := monitorapi.New(base, hc)
	if err != nil {
		return nil, fmt.Errorf("proxy's monitor url: %w", err)
	}
	return &MonitorClient{api: c, idle: DefaultStreamIdle}, nil
}

// WatchPlacements implements Monitor (monitorapi.Client.WatchPlacements:
// the stream counts as broken when no line, keepalives included, arrives
// for the client's idle timeout).
func (c *MonitorClient) WatchPlacements(ctx context.Context, fn func(Placement)) error {
	return c.api.WatchPlacements(ctx, c.idle, func(ev api.PlacementEvent) {
		for _, p := range ev.Placements {
			fn(p)
		}
	})
}

// ReportSuspect implements Monitor.
func (c *MonitorClient) ReportSuspect(ctx context.Context, service string, r SuspectReport) error {
	resp, err := c.api.Do(ctx, http.MethodPost, "/v1/services/"+url.PathEscape(service)+"/suspect", r, nil)
	if err != nil {
		return fmt.Errorf("report suspect %q: %w", service, err)
	}
	// 409: the service is already in an incident; the monitor knows.
	if err := resp.Err(); err != nil && resp.Code != http.StatusConflict {
		return fmt.Errorf("report suspect %q: %w", service, err)
	}
	return nil
}
