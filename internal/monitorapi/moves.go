package monitorapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/understudy/understudy/monitor/api"
)

// PostAnswer POSTs body to path (within 40 s) and decodes the JSON answer
// into out, also on an error status: the error field of an api.Error answer
// lands in out's Error when it has one. It returns the status code.
func (c *Client) PostAnswer(ctx context.Context, path string, body []byte, out any) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 40*time.Second)
	defer cancel()
	resp, err := c.Do(ctx, http.MethodPost, path, body, nil)
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal(resp.Body, out); err != nil {
		return 0, fmt.Errorf("monitor at %s answered %s: %s", c.Base(), resp.Status, strings.TrimSpace(string(resp.Body)))
	}
	return resp.Code, nil
}

// ServiceStatus returns one service's status from the monitor's
// /v1/status, and false when the monitor does not know the service.
func (c *Client) ServiceStatus(ctx context.Context, service string) (api.ServiceStatus, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	body, err := c.StatusJSON(ctx)
	if err != nil {
		return api.ServiceStatus{}, false, err
	}
	var st api.Status
	if err := json.Unmarshal(body, &st); err != nil {
		return api.ServiceStatus{}, false, fmt.Errorf("decode the monitor's status: %w", err)
	}
	for _, s := range st.Services {
		if s.Service == service {
			return s, true, nil
		}
	}
	return api.ServiceStatus{}, false, nil
}

// LastIncidentID is the ID of the service's last incident ("" for none or
// an unknown service, which the monitor refuses later).
func (c *Client) LastIncidentID(ctx context.Context, service string) (string, error) {
	s, ok, err := c.ServiceStatus(ctx, service)
	if err != nil || !ok || s.LastIncident == nil {
		return "", err
	}
	return s.LastIncident.ID, nil
}

// WaitMove polls the monitor until the service's incident after before
// closed (or wait passed) and prints where it ended; a result other than
// want, a stuck service and the end of wait are errors. A wait of 0 or less
// returns at once.
func (c *Client) WaitMove(ctx context.Context, w io.Writer, service, before string, wait time.Duration, want string) error {
	if wait <= 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		s, _, err := c.ServiceStatus(ctx, service)
		if inc := s.LastIncident; err == nil && inc != nil && inc.ID != before && !inc.Open {
			fmt.Fprintf(w, "%s: %s in %.0f ms; now %s on %s/%s at %s\n", service, inc.Result, inc.TotalMS, s.State, s.Where, s.Host, s.Address)
			if inc.Result != want {
				return fmt.Errorf("%s ended %q, not %q: %s", inc.ID, inc.Result, want, inc.LastError)
			}
			return nil
		}
		if inc := s.LastIncident; err == nil && s.State == "stuck" && inc != nil && inc.ID != before {
			return fmt.Errorf("%s is stuck: %s", service, inc.Stuck)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: the move did not end within %s (see `understudy status`)", service, wait)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// StatusJSON GETs /v1/status and returns the JSON answer as it came.
func (c *Client) StatusJSON(ctx context.Context) (json.RawMessage, error) {
	var body json.RawMessage
	if err := c.Get(ctx, "/v1/status", &body); err != nil {
		return nil, err
	}
	return body, nil
}
