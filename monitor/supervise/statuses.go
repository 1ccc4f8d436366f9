package supervise

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/understudy/understudy/lxd"
)

// statusBatch answers the instance probes of one hypervisor from one
// listing of its instances (lxd Statuses) instead of one state request
// each: a hypervisor of 20 VMs probed every 250 ms would otherwise answer
// 80 state requests a second, the most expensive read of its API, and on
// a busy host they time out and the probes flap. A probe's answer is
// always from a listing sent after the probe asked: a caller that arrives
// while a listing is in flight waits for the next one, which carries
// every caller that arrived meanwhile. Safe for concurrent use.
type statusBatch struct {
	list func(ctx context.Context) (map[string]lxd.State, error)

	mu      sync.Mutex
	next    *listing // the listing callers join now; nil: none asked for
	running bool     // a goroutine is sending listings
}

// listing is one listing's result, shared by the callers that joined it.
type listing struct {
	done     chan struct{}
	deadline time.Time // the latest of its callers'; the listing is sent with it
	states   map[string]lxd.State
	err      error
}

// state reports instance's state from the next listing.
func (b *statusBatch) state(ctx context.Context, instance string) (lxd.State, error) {
	b.mu.Lock()
	if b.next == nil {
		b.next = &listing{done: make(chan struct{})}
	}
	l := b.next
	// The listing may wait for the one in flight before it is sent: give it
	// the latest deadline among its callers, so that a caller who joined
	// late is not cut short by an earlier one's.
	d, ok := ctx.Deadline()
	if !ok {
		d = time.Now().Add(time.Minute)
	}
	if d.After(l.deadline) {
		l.deadline = d
	}
	if !b.running {
		b.running = true
		go b.send()
	}
	b.mu.Unlock()
	select {
	case <-ctx.Done():
		return lxd.State{}, ctx.Err()
	case <-l.done:
	}
	if l.err != nil {
		return lxd.State{}, l.err
	}
	st, ok := l.states[instance]
	if !ok {
		return lxd.State{}, fmt.Errorf("instance %q: %w", instance, lxd.ErrNotFound)
	}
	return st, nil
}

// send sends the listings asked for, one after the other, and returns when
// none is waiting; each is bounded by its callers' latest deadline.
func (b *statusBatch) send() {
	for {
		b.mu.Lock()
		l := b.next
		b.next = nil
		if l == nil {
			b.running = false
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		ctx, cancel := context.WithDeadline(context.Background(), l.deadline)
		l.states, l.err = b.list(ctx)
		cancel()
		close(l.done)
	}
}
