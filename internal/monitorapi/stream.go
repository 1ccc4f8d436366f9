package monitorapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/understudy/understudy/monitor/api"
)

// MaxStreamLine bounds one line of the placement stream.
const MaxStreamLine = 64 << 10

// DefaultStreamIdle is how long a placement stream may stay silent before
// WatchPlacements drops it; the monitor sends a keepalive line every 15 s.
const DefaultStreamIdle = 45 * time.Second

var (
	// ErrStreamEnded: the monitor closed the placement stream.
	ErrStreamEnded = errors.New("placement stream ended")
	// ErrStreamIdle: no line (keepalives included) arrived within the idle
	// timeout.
	ErrStreamIdle = errors.New("no line from the monitor within the idle timeout")
)

// WatchPlacements reads the monitor's placement stream (GET
// /v1/placements?watch=1) and calls fn with every event, from one
// goroutine, until the stream breaks or ctx ends; it returns why it
// stopped: ErrStreamEnded, ErrStreamIdle when no line arrived for idle (0:
// DefaultStreamIdle), a *StatusError, or the decode error of a line. The
// client's http.Client must have no Timeout, which would cut the stream.
func (c *Client) WatchPlacements(ctx context.Context, idle time.Duration, fn func(api.PlacementEvent)) error {
	if idle <= 0 {
		idle = DefaultStreamIdle
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := time.AfterFunc(idle, func() { cancel(ErrStreamIdle) })
	defer timer.Stop()
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
		return fmt.Errorf("watch placements: %w", &StatusError{Base: c.base, Code: resp.StatusCode, Status: resp.Status})
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 4096), MaxStreamLine)
	for n := 1; sc.Scan(); n++ {
		timer.Reset(idle)
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		ev, err := DecodePlacementLine(line)
		if err != nil {
			return fmt.Errorf("watch placements: decode line %d: %w", n, err)
		}
		fn(ev)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("watch placements: read: %w", causeOr(ctx, err))
	}
	return fmt.Errorf("watch placements: %w", ErrStreamEnded)
}

// DecodePlacementLine decodes one line of the placement stream: an
// api.PlacementEvent, or a bare api.Placement (returned as an EventChange
// of that placement).
func DecodePlacementLine(line []byte) (api.PlacementEvent, error) {
	var ev api.PlacementEvent
	if err := json.Unmarshal(line, &ev); err != nil {
		return api.PlacementEvent{}, err
	}
	if ev.Type != "" {
		return ev, nil
	}
	var p api.Placement
	if err := json.Unmarshal(line, &p); err != nil {
		return api.PlacementEvent{}, err
	}
	if p.Service != "" {
		return api.PlacementEvent{Type: api.EventChange, Placements: []api.Placement{p}}, nil
	}
	return ev, nil
}

// causeOr returns ctx's cause when ctx ended, else err.
func causeOr(ctx context.Context, err error) error {
	if c := context.Cause(ctx); c != nil {
		return c
	}
	return err
}
