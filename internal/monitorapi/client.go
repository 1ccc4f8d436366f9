// Package monitorapi is the small HTTP client of the monitor daemon's API
// (served by monitor/httpapi): one request with an optional JSON body, its
// answer, the API's error shape (api.Error), and the placement stream
// (WatchPlacements, stream.go), over plain HTTP or mutual TLS
// (monitor.api-tls), with the bearer token of monitor.api-token-file when
// the API is plain HTTP. The CLI commands, the drill, the proxy and the
// monitors themselves (a follower calling its leader) share it.
//
// Besides the stream it knows no path's meaning; the bodies are monitor/api's
// wire types, and it imports no feature package, so every one of them can
// import it. It does not retry, and it holds no state besides the
// connection pool: callers bound each call with their context.
package monitorapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/understudy/understudy/internal/tlsfiles"
	"github.com/understudy/understudy/inventory"
	"github.com/understudy/understudy/monitor/api"
)

// maxAnswer bounds the answer read into memory.
const maxAnswer = 16 << 20

// Client calls one monitor's API at a base URL.
type Client struct {
	base string
	hc   *http.Client
}

// New returns a client of the monitor at base (http(s)://host:port). hc
// may be nil for a plain HTTP client; see HTTPClient.
func New(base string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("monitor URL %q: want http(s)://host:port", base)
	}
	if hc == nil {
		hc = HTTPClient(nil)
	}
	return &Client{base: strings.TrimRight(base, "/"), hc: hc}, nil
}

// HTTPClient is an *http.Client for the monitor's API: conf is its TLS
// configuration (nil for plain HTTP). It has no timeout, so placement
// streams can last; bound each request with its context.
func HTTPClient(conf *tls.Config) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = conf
	return &http.Client{Transport: t}
}

// TLSConfig is the client TLS configuration of f (the CA that verifies the
// monitor, the client certificate it requires), or nil when f is zero (plain
// HTTP). The key pair is read again when its files change.
func TLSConfig(f inventory.TLSFiles) (*tls.Config, error) {
	if f.IsZero() {
		return nil, nil
	}
	conf, err := tlsfiles.Client(f.CA, f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("monitor API client certificate: %w", err)
	}
	return conf, nil
}

// Base is the monitor's base URL, without a trailing slash.
func (c *Client) Base() string { return c.base }

// HTTP is the underlying client (for a reverse proxy's transport or a stream).
func (c *Client) HTTP() *http.Client { return c.hc }

// Response is the monitor's answer to one request.
type Response struct {
	// Code is the HTTP status code; Status its text ("409 Conflict").
	Code   int
	Status string
	// Body is the answer, at most 16 MiB.
	Body []byte
	base string
}

// Err is nil for a 2xx answer, else a *StatusError.
func (r *Response) Err() error {
	if r.Code/100 == 2 {
		return nil
	}
	e := &StatusError{Base: r.base, Code: r.Code, Status: r.Status, Message: strings.TrimSpace(string(r.Body))}
	var body api.Error
	if json.Unmarshal(r.Body, &body) == nil && body.Error != "" {
		e.Message = body.Error
	}
	return e
}

// JSON decodes the answer into out.
func (r *Response) JSON(out any) error {
	if err := json.Unmarshal(r.Body, out); err != nil {
		return fmt.Errorf("decode the answer of the monitor at %s (%s): %w", r.base, r.Status, err)
	}
	return nil
}

// StatusError is an answer other than 2xx.
type StatusError struct {
	Base    string // the monitor's base URL
	Code    int
	Status  string
	Message string // the answer's error field, else its body
}

// Error names the monitor, the status and the monitor's message.
func (e *StatusError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("monitor at %s answered %s", e.Base, e.Status)
	}
	return fmt.Sprintf("monitor at %s answered %s: %s", e.Base, e.Status, e.Message)
}

// Code returns the status code of a *StatusError in err's chain, or 0.
func Code(err error) int {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// Do sends method path with body (nil: none; []byte: as is; else encoded as
// JSON) and the extra header, and reads the answer, whatever its status.
// Content-Type is application/json unless header says otherwise, also for
// a POST without a body.
// The error is about the exchange itself (the monitor unreachable, a
// refused certificate).
func (c *Client) Do(ctx context.Context, method, path string, body any, header http.Header) (*Response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("ask the monitor at %s: %w", c.base, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	// Every call that changes something is JSON (the monitor refuses other
	// content types there, so a browser's cross-site form cannot post).
	if (rd != nil || (method != http.MethodGet && method != http.MethodHead)) && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ask the monitor at %s (is `understudy monitor` running?): %w", c.base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("read the answer of the monitor at %s: %w", c.base, err)
	}
	return &Response{Code: resp.StatusCode, Status: resp.Status, Body: b, base: c.base}, nil
}

// Get GETs path and decodes a 2xx answer into out (nil: discard it).
func (c *Client) Get(ctx context.Context, path string, out any) error {
	return c.call(ctx, http.MethodGet, path, nil, out)
}

// Post POSTs in as JSON to path and decodes a 2xx answer into out (nil:
// discard it).
func (c *Client) Post(ctx context.Context, path string, in, out any) error {
	return c.call(ctx, http.MethodPost, path, in, out)
}

func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	r, err := c.Do(ctx, method, path, in, nil)
	if err != nil {
		return err
	}
	if err := r.Err(); err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	return r.JSON(out)
}
