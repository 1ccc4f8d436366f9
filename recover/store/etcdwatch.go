package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/understudy/understudy/recover"
)

// ErrTooManyWatchers: the store already streams placements to as many
// watchers as it keeps (DefaultMaxWatchers); the caller should answer 503
// and let the client come back.
var ErrTooManyWatchers = errors.New("too many placement watchers")

// DefaultMaxWatchers is how many placement watchers an Etcd keeps at
// once. Each costs a channel of watchBuffer placements, not an etcd watch.
// It is half the monitor API's connection cap (httpserve.DefaultMaxConns,
// 1024): every watcher is an open HTTP stream, and streams past it must
// get 503 while connections remain for suspect, failover and reset.
const DefaultMaxWatchers = 512

// placementHub is the one etcd watch on the placements, fanned out to every
// WatchPlacements caller. etcd's in-process client deadlocks after about a
// thousand watch streams opened and cancelled (etcd-io/etcd#20716); with one
// watch per HTTP stream, proxies then stopped hearing about failovers.
//
// The hub keeps the placements it has seen, so a new subscriber gets a
// snapshot and every later change under one lock: none is missed or seen
// twice. Its goroutine (one, owned by the hub) runs from the first
// subscription until the watch fails or Close; a failed watch closes every
// subscriber's channel (they list again) and the next subscription starts
// a new one. A subscriber that falls watchBuffer changes behind is evicted
// the same way, so a slow reader never holds up the others.
type placementHub struct {
	cli    placementSource
	prefix string // of the placement keys
	max    int
	life   context.Context    // cancelled by close: ends a list or watch being opened
	end    context.CancelFunc // of life

	mu      sync.Mutex
	subs    map[*subscriber]struct{}
	cur     map[string]recover.Placement // by key, while running
	running bool
	stop    context.CancelFunc // of the running watch
	done    chan struct{}      // closed when the running watch's goroutine returns
	closed  bool
	evicted int // subscribers dropped for falling behind, for tests and logs
}

// subscriber is one WatchPlacements caller.
type subscriber struct {
	ch     chan recover.Placement
	closed bool        // guarded by the hub's mu
	unhook func() bool // stops the AfterFunc on the caller's context
}

// placementSource is what the hub needs of an etcd client.
type placementSource interface {
	Get(ctx context.Context, key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error)
	Watch(ctx context.Context, key string, opts ...clientv3.OpOption) clientv3.WatchChan
}

func newPlacementHub(cli placementSource, prefix string) *placementHub {
	life, end := context.WithCancel(context.Background())
	return &placementHub{cli: cli, prefix: prefix, max: DefaultMaxWatchers, life: life, end: end, subs: map[*subscriber]struct{}{}}
}

// subscribe returns the placements now and a channel of later changes,
// closed when ctx ends, the subscriber falls behind or the watch fails.
// The list and the watch that start the hub run outside mu: without
// quorum they wait, and drops, Watchers and close must not wait with them.
func (h *placementHub) subscribe(ctx context.Context) ([]recover.Placement, <-chan recover.Placement, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.admit(); err != nil {
		return nil, nil, err
	}
	if !h.running {
		h.mu.Unlock()
		w, err := h.open(ctx)
		h.mu.Lock()
		if err != nil {
			return nil, nil, err
		}
		if err := h.admit(); err != nil {
			w.stop()
			return nil, nil, err
		}
		if h.running { // another subscriber started it meanwhile
			w.stop()
		} else {
			h.install(w)
		}
	}
	snap := make([]recover.Placement, 0, len(h.cur))
	for _, p := range h.cur {
		snap = append(snap, p)
	}
	sort.Slice(snap, func(i, j int) bool { return snap[i].Service < snap[j].Service })
	s := &subscriber{ch: make(chan recover.Placement, watchBuffer)}
	h.subs[s] = struct{}{}
	s.unhook = context.AfterFunc(ctx, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.drop(s)
	})
	return snap, s.ch, nil
}

// admit fails when the hub is closed or full. Called with mu held.
func (h *placementHub) admit() error {
	if h.closed {
		return errors.New("watch placements: the store is closed")
	}
	if len(h.subs) >= h.max {
		return fmt.Errorf("watch placements: %d watchers: %w", len(h.subs), ErrTooManyWatchers)
	}
	return nil
}

// openWatch is a listed snapshot and the watch from the revision after it,
// not yet installed.
type openWatch struct {
	cur  map[string]recover.Placement
	wch  clientv3.WatchChan
	stop context.CancelFunc
}

// open lists the placements and starts the watch from the revision after
// the list, without mu. close cancels both (through h.life).
func (h *placementHub) open(ctx context.Context) (*openWatch, error) {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	unhook := context.AfterFunc(h.life, cancel)
	defer unhook()
	resp, err := h.cli.Get(lctx, h.prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("list placements: %w", err)
	}
	cur := make(map[string]recover.Placement, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var p recover.Placement
		if err := json.Unmarshal(kv.Value, &p); err != nil {
			return nil, fmt.Errorf("decode placement %s: %w", kv.Key, err)
		}
		cur[string(kv.Key)] = p
	}
	// The watch outlives the first subscriber's context: it is the hub's.
	wctx, stop := context.WithCancel(clientv3.WithRequireLeader(h.life))
	wch := h.cli.Watch(wctx, h.prefix, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1))
	return &openWatch{cur: cur, wch: wch, stop: stop}, nil
}

// install makes w the running watch and starts its goroutine. Called with
// mu held.
func (h *placementHub) install(w *openWatch) {
	h.cur, h.running, h.stop, h.done = w.cur, true, w.stop, make(chan struct{})
	go h.run(w.wch, w.stop, h.done)
}

// run fans the watch's events out until it fails or is stopped.
func (h *placementHub) run(wch clientv3.WatchChan, stop context.CancelFunc, done chan struct{}) {
	defer close(done)
	defer stop()
	for wr := range wch {
		if wr.Err() != nil || wr.Canceled {
			break
		}
		h.fanOut(wr.Events)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	// The watch ended (a failure, a compaction, Close): every subscriber
	// lists again, through a new watch.
	for s := range h.subs {
		h.drop(s)
	}
	h.running, h.cur = false, nil
}

// fanOut applies events to the placements and passes them on.
func (h *placementHub) fanOut(events []*clientv3.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ev := range events {
		key := string(ev.Kv.Key)
		if ev.Type == clientv3.EventTypeDelete {
			delete(h.cur, key)
			continue
		}
		var p recover.Placement
		if json.Unmarshal(ev.Kv.Value, &p) != nil {
			continue
		}
		h.cur[key] = p
		for s := range h.subs {
			select {
			case s.ch <- p:
			default:
				h.evicted++
				h.drop(s)
			}
		}
	}
}

// drop removes s and closes its channel, once. Called with mu held.
func (h *placementHub) drop(s *subscriber) {
	if s.closed {
		return
	}
	s.closed = true
	delete(h.subs, s)
	close(s.ch)
	if s.unhook != nil {
		s.unhook()
	}
}

// watchers is how many subscribers the hub streams to now.
func (h *placementHub) watchers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// close stops the watch, closes every subscriber and waits for the hub's
// goroutine.
func (h *placementHub) close() {
	h.mu.Lock()
	h.closed = true
	stop, done, running := h.stop, h.done, h.running
	h.mu.Unlock()
	h.end()
	if running {
		stop()
		<-done
	}
}
