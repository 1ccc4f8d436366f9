package standby

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/understudy/understudy/standby/api"
)

// Client talks to one standby agent over mutual TLS. Errors the agent
// reports as stale epoch, no capacity, not found, invalid or not ready wrap
// the matching sentinel (ErrStaleEpoch, ErrNoCapacity, ...).
type Client struct {
	base string
	http *http.Client
}

// NewClient returns a client for the agent at baseURL (https://host:port),
// using tlsCfg (see ClientTLSConfig). Calls are bounded by their contexts.
func NewClient(baseURL string, tlsCfg *tls.Config) *Client {
	tr := &http.Transport{
		TLSClientConfig:     tlsCfg,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), http: &http.Client{Transport: tr}}
}

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Health returns the agent's readiness, restore availability, version and epoch.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	return h, c.do(ctx, http.MethodGet, "/v1/health", nil, &h)
}

// Capacity returns the standby VM's resources and free slots.
func (c *Client) Capacity(ctx context.Context) (Capacity, error) {
	var v Capacity
	return v, c.do(ctx, http.MethodGet, "/v1/capacity", nil, &v)
}

// Services lists the prepared services.
func (c *Client) Services(ctx context.Context) ([]ServiceStatus, error) {
	var v []ServiceStatus
	return v, c.do(ctx, http.MethodGet, "/v1/services", nil, &v)
}

// Prepare asks the agent to prepare spec under epoch.
func (c *Client) Prepare(ctx context.Context, epoch uint64, spec ServiceSpec) (ServiceStatus, error) {
	spec.Epoch = epoch
	var v ServiceStatus
	return v, c.do(ctx, http.MethodPut, "/v1/services/"+url.PathEscape(spec.Name), spec, &v)
}

// Activate activates the service and returns its address and phase times.
func (c *Client) Activate(ctx context.Context, epoch uint64, name string) (Activation, error) {
	var v Activation
	return v, c.do(ctx, http.MethodPost, "/v1/services/"+url.PathEscape(name)+"/activate", EpochRequest{Epoch: epoch}, &v)
}

// Deactivate returns the service to its prepared state.
func (c *Client) Deactivate(ctx context.Context, epoch uint64, name string) (ServiceStatus, error) {
	var v ServiceStatus
	return v, c.do(ctx, http.MethodPost, "/v1/services/"+url.PathEscape(name)+"/deactivate", EpochRequest{Epoch: epoch}, &v)
}

// Delete removes the service and its container.
func (c *Client) Delete(ctx context.Context, epoch uint64, name string) error {
	return c.do(ctx, http.MethodDelete, "/v1/services/"+url.PathEscape(name), EpochRequest{Epoch: epoch}, nil)
}

// Probe asks the agent to probe an address from the standby VM.
func (c *Client) Probe(ctx context.Context, req ProbeRequest) (ProbeResult, error) {
	var v ProbeResult
	return v, c.do(ctx, http.MethodPost, "/v1/probe", req, &v)
}

// RemoteError is an error reported by the agent. It unwraps to the
// matching sentinel (ErrStaleEpoch, ErrNoCapacity, ...) when there is one.
type RemoteError struct {
	Status   int
	Message  string
	sentinel error
}

// Error says what the agent reported and the HTTP status.
func (e *RemoteError) Error() string { return fmt.Sprintf("agent: %s (HTTP %d)", e.Message, e.Status) }

// Unwrap returns the sentinel the agent's error code names, or nil.
func (e *RemoteError) Unwrap() error { return e.sentinel }

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: encode request: %w", method, path, err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("%s %s: read response: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var eb api.ErrorBody
		if json.Unmarshal(data, &eb) != nil || eb.Error == "" {
			eb.Error = strings.TrimSpace(string(data))
		}
		return fmt.Errorf("%s %s: %w", method, path, &RemoteError{Status: resp.StatusCode, Message: eb.Error, sentinel: errorForCode(eb.Code)})
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", method, path, err)
	}
	return nil
}
