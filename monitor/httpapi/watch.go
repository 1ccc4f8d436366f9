package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/recover"
)

// placements serves the snapshot, or with ?watch=1 a newline-delimited JSON
// stream: a snapshot, then every change, with keepalives in between. When the
// store drops the watch (a slow reader), a fresh snapshot follows.
func (s *Server) placements(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	watch := r.URL.Query().Get("watch")
	if watch == "" || watch == "0" || watch == "false" {
		snap, _, err := s.cfg.Views.Placements(ctx, false)
		if err != nil {
			WriteJSON(w, http.StatusServiceUnavailable, api.Error{Error: err.Error()})
			return
		}
		WriteJSON(w, http.StatusOK, api.PlacementEvent{Type: api.EventSnapshot, Placements: wirePlacements(snap)})
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		WriteJSON(w, http.StatusInternalServerError, api.Error{Error: "streaming unsupported"})
		return
	}
	// The first watch is taken before the header, so that a store at its
	// watcher cap answers 503 and the client tries again (or another
	// monitor).
	wctx, cancel := context.WithCancel(ctx)
	snap, changes, err := s.cfg.Views.Placements(wctx, true)
	if err != nil {
		cancel()
		s.log.Warn("placement watch", "err", err)
		WriteJSON(w, http.StatusServiceUnavailable, api.Error{Error: err.Error()})
		return
	}
	s.metrics.watchers.Inc()
	defer s.metrics.watchers.Dec()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	send := func(ev api.PlacementEvent) bool {
		if err := enc.Encode(ev); err != nil {
			return false
		}
		flusher.Flush()
		return true
	}
	keep := time.NewTicker(s.cfg.Keepalive)
	defer keep.Stop()
	for {
		ok := send(api.PlacementEvent{Type: api.EventSnapshot, Placements: wirePlacements(snap)}) && s.stream(ctx, changes, keep.C, send)
		cancel()
		if !ok || ctx.Err() != nil {
			return
		}
		// The store dropped us (we fell behind, or its watch failed): list again.
		wctx, cancel = context.WithCancel(ctx)
		if snap, changes, err = s.cfg.Views.Placements(wctx, true); err != nil {
			cancel()
			s.log.Warn("placement watch", "err", err)
			return
		}
	}
}

// stream forwards changes until the channel closes (true: list again) or the
// client is gone (false).
func (s *Server) stream(ctx context.Context, changes <-chan recover.Placement, keep <-chan time.Time, send func(api.PlacementEvent) bool) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case p, ok := <-changes:
			if !ok {
				return ctx.Err() == nil
			}
			if !send(api.PlacementEvent{Type: api.EventChange, Placements: []api.Placement{api.Placement(p)}}) {
				return false
			}
		case <-keep:
			if !send(api.PlacementEvent{Type: api.EventKeepalive}) {
				return false
			}
		}
	}
}

// wirePlacements converts the store's placements to the API's (nil stays
// nil, so an empty snapshot omits the field as before).
func wirePlacements(ps []recover.Placement) []api.Placement {
	if ps == nil {
		return nil
	}
	out := make([]api.Placement, len(ps))
	for i, p := range ps {
		out[i] = api.Placement(p)
	}
	return out
}
