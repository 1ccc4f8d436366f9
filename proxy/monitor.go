package proxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/understudy/understudy/internal/monitorapi"
	"github.com/understudy/understudy/monitor/api"
)

// Placement is where a service runs, as one line of the monitor's
// placement stream says (the API's wire type); the proxy uses only
// Service, Address, Epoch and Held. Held: the service is moving (a
// migration or failback); new requests wait until a placement without it
// arrives, then go to that placement's address.
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

// MonitorClient is the HTTP client of the monitor's proxy-facing API:
// GET /v1/placements?watch=1 (newline-delimited JSON) and
// POST /v1/services/{name}/suspect.
type MonitorClient struct {
	base string
	hc   *http.Client
	api  *monitorapi.Client // the same monitor and client, for plain calls
	idle time.Duration
}

// DefaultStreamIdle is how long a placement stream may stay silent before
// the client drops it and reconnects; the monitor sends a keepalive line
// every 15 s.
const DefaultStreamIdle = 45 * time.Second

var _ Monitor = (*MonitorClient)(nil)

// maxLine bounds one line of the placement stream.
const maxLine = 64 << 10

// NewMonitorClient returns a client of the monitor at base (e.g.
// "http://127.0.0.1:9400"). hc may be nil for a default client; it must not
// have a Timeout, which would cut the stream. With monitor.api-tls, hc
// carries the client certificate (monitorapi.HTTPClient).
func NewMonitorClient(base string, hc *http.Client) (*MonitorClient, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("monitor url %q: want http(s)://host:port", base)
	}
	if hc == nil {
		hc = &http.Client{}
	}
	api, err := monitorapi.New(base, hc)
	if err != nil {
		return nil, err
	}
	return &MonitorClient{base: strings.TrimSuffix(base, "/"), hc: hc, api: api, idle: DefaultStreamIdle}, nil
}

// streamLine is one line of the placement stream. The monitor sends
// events {"type": "snapshot"|"change"|"keepalive", "placements": [...]};
// a bare Placement object per line is accepted too.
type streamLine struct {
	Type       string      `json:"type"`
	Placements []Placement `json:"placements"`
	Placement
}

// WatchPlacements implements Monitor. The stream counts as broken when no
// line (keepalives included) arrives for the client's idle timeout.
func (c *MonitorClient) WatchPlacements(ctx context.Context, fn func(Placement)) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	idle := time.AfterFunc(c.idle, func() { cancel(errStreamIdle) })
	defer idle.Stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/placements?watch=1", nil)
	if err != nil {
		return fmt.Errorf("watch placements: %w", err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("watch placements: %w", causeOr(ctx, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("watch placements: monitor answered %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	for n := 1; sc.Scan(); n++ {
		idle.Reset(c.idle)
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if err := decodeLine(line, fn); err != nil {
			return fmt.Errorf("watch placements: decode line %d: %w", n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("watch placements: read: %w", causeOr(ctx, err))
	}
	return fmt.Errorf("watch placements: %w", ErrStreamEnded)
}

// decodeLine calls fn for each placement in one line of the stream.
func decodeLine(line []byte, fn func(Placement)) error {
	var l streamLine
	if err := json.Unmarshal(line, &l); err != nil {
		return err
	}
	if l.Type == "" && l.Service != "" {
		fn(l.Placement)
		return nil
	}
	for _, p := range l.Placements {
		fn(p)
	}
	return nil
}

// errStreamIdle ends a stream that went quiet for too long.
var errStreamIdle = errors.New("no line from the monitor within the idle timeout")

// causeOr returns ctx's cause when ctx ended, else err.
func causeOr(ctx context.Context, err error) error {
	if c := context.Cause(ctx); c != nil {
		return c
	}
	return err
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
