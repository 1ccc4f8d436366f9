package monitor

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"time"

	"github.com/understudy/understudy/monitor/api"
	"github.com/understudy/understudy/recover"
)

// placements serves the snapshot, or with ?watch=1 a newline-delimited JSON
// stream: a snapshot, then every change, with keepalives in between. When the
// store drops the watch (a slow reader), a fresh snapshot follows.
func (c *Controller) placements(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	watch := r.URL.Query().Get("watch")
	if watch == "" || watch == "0" || watch == "false" {
		snap, _, err := c.watchPlacements(ctx, false)
		if err != nil {
			writeJSON(w, http.StatusServiceUnavailable, api.Error{Error: err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, api.PlacementEvent{Type: "snapshot", Placements: wirePlacements(snap)})
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeJSON(w, http.StatusInternalServerError, api.Error{Error: "streaming unsupported"})
		return
	}
	// The first watch is taken before the header, so that a store at its
	// watcher cap answers 503 and the client tries again (or another
	// monitor).
	wctx, cancel := context.WithCancel(ctx)
	snap, changes, err := c.watchPlacements(wctx, true)
	if err != nil {
		cancel()
		c.log.Warn("placement watch", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, api.Error{Error: err.Error()})
		return
	}
	c.metrics.watchers.Inc()
	defer c.metrics.watchers.Dec()
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
	keep := time.NewTicker(c.opts.Keepalive)
	defer keep.Stop()
	for {
		ok := send(api.PlacementEvent{Type: "snapshot", Placements: wirePlacements(snap)}) && c.stream(ctx, changes, keep.C, send)
		cancel()
		if !ok || ctx.Err() != nil {
			return
		}
		// The store dropped us (we fell behind, or its watch failed): list again.
		wctx, cancel = context.WithCancel(ctx)
		if snap, changes, err = c.watchPlacements(wctx, true); err != nil {
			cancel()
			c.log.Warn("placement watch", "err", err)
			return
		}
	}
}

// stream forwards changes until the channel closes (true: list again) or the
// client is gone (false).
func (c *Controller) stream(ctx context.Context, changes <-chan recover.Placement, keep <-chan time.Time, send func(api.PlacementEvent) bool) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case p, ok := <-changes:
			if !ok {
				return ctx.Err() == nil
			}
			if !send(api.PlacementEvent{Type: "change", Placements: []api.Placement{api.Placement(p)}}) {
				return false
			}
		case <-keep:
			if !send(api.PlacementEvent{Type: "keepalive"}) {
				return false
			}
		}
	}
}

// watchPlacements returns the placement of every configured service (a
// service the store has no placement for yet is on its primary) and, when
// watch is set, the store's change channel.
func (c *Controller) watchPlacements(ctx context.Context, watch bool) ([]recover.Placement, <-chan recover.Placement, error) {
	if c.store == nil {
		return nil, nil, errNotRunning
	}
	var stored []recover.Placement
	var changes <-chan recover.Placement
	var err error
	if watch {
		stored, changes, err = c.store.WatchPlacements(ctx)
	} else {
		wctx, cancel := context.WithCancel(ctx)
		stored, _, err = c.store.WatchPlacements(wctx)
		cancel()
	}
	if err != nil {
		return nil, nil, err
	}
	p := c.plan()
	seen := map[string]bool{}
	var out []recover.Placement
	for _, pl := range stored {
		if _, ok := p.services[pl.Service]; ok {
			out = append(out, pl)
			seen[pl.Service] = true
		}
	}
	for name, cfg := range p.services {
		if !seen[name] {
			out = append(out, recover.Placement{Service: name, Where: recover.AtPrimary, Host: cfg.Service.VM, Address: cfg.Service.Address, Epoch: c.epoch()})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out, changes, nil
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
