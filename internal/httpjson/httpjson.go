// Package httpjson is the one JSON answer writer and the one strict request
// body decoder of the project's HTTP servers: the monitor API
// (monitor/httpapi), its status page (monitor/statuspage) and the standby
// agent (standby). It imports only the standard library.
package httpjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// Write writes v as the JSON answer with status. Headers set on w before
// the call (Cache-Control, ...) are sent with it.
func Write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ErrTooLarge: the body is larger than the limit DecodeStrict was given.
var ErrTooLarge = errors.New("larger than the limit")

// ErrTrailing: the body holds more than one JSON value, or data after it.
var ErrTrailing = errors.New("more than one JSON value")

// DecodeStrict decodes the optional JSON body of r into v, strictly: one
// value, no unknown field, nothing after it, at most limit bytes. An empty
// (or all-blank) body leaves v as it is. Errors start with "read body" or
// "decode body" and name the field or the offset; ErrTooLarge and
// ErrTrailing are in the chain when they apply.
func DecodeStrict(r *http.Request, v any, limit int64) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if int64(len(body)) > limit {
		return fmt.Errorf("read body: %w of %d bytes", ErrTooLarge, limit)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode body: %w", err)
	}
	if rest := bytes.TrimSpace(body[dec.InputOffset():]); len(rest) > 0 {
		return fmt.Errorf("decode body: %w (at byte %d)", ErrTrailing, dec.InputOffset())
	}
	return nil
}
