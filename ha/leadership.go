package ha

import (
	"context"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Leadership is one term of this monitor as leader.
type Leadership struct {
	// Key is the leader key in etcd (the election prefix plus the lease).
	Key string
	// Rev is the leader key's CreateRevision: the fencing epoch. It is
	// larger than every earlier leader's.
	Rev int64
	// Since is when this monitor won.
	Since time.Time

	done    chan struct{}
	once    sync.Once
	mu      sync.Mutex
	why     string
	ended   time.Time // when end closed done
	renewed time.Time // when the last successful lease renewal was sent
}

func newLeadership(key string, rev int64, since time.Time) *Leadership {
	return &Leadership{Key: key, Rev: rev, Since: since, done: make(chan struct{})}
}

// Done is closed when the leadership ends: the session lease was lost or
// could not be renewed within its TTL, the monitor resigned, the leader key
// was deleted, or a guarded write was refused. It never reopens.
func (l *Leadership) Done() <-chan struct{} { return l.done }

// Epoch is Rev as the epoch the executor sends to agents
// (executor.Config.Epoch). Store.NextEpoch returns the same value
// and records it.
func (l *Leadership) Epoch() uint64 { return uint64(l.Rev) }

// Guard is the comparison every write of this leader carries.
func (l *Leadership) Guard() clientv3.Cmp {
	return clientv3.Compare(clientv3.CreateRevision(l.Key), "=", l.Rev)
}

// Lost returns why the leadership ended, or "" while it holds.
func (l *Leadership) Lost() string {
	select {
	case <-l.done:
	default:
		return ""
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.why
}

// Context returns a context that is cancelled, with cause ErrNotLeader, when
// the leadership ends or parent ends. Run the executor under it: a deposed
// leader's executor stops retrying its saves and its steps' contexts end.
// Call cancel to release the context's goroutine.
func (l *Leadership) Context(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	go func() {
		select {
		case <-l.done:
			cancel(ErrNotLeader)
		case <-ctx.Done():
		}
	}()
	return ctx, func() { cancel(context.Canceled) }
}

// end closes Done once, recording why and when.
func (l *Leadership) end(why string) {
	l.once.Do(func() {
		l.mu.Lock()
		l.why, l.ended = why, time.Now()
		l.mu.Unlock()
		close(l.done)
	})
}

// Ended is when the leadership ended (zero while it holds): from then on
// this monitor does not act as leader.
func (l *Leadership) Ended() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ended
}

// LastRenewal is when the last successful renewal of the session lease was
// sent. etcd cannot expire the lease, and so no other monitor can lead,
// before LastRenewal plus the TTL; the leader steps down at 0.9 TTL after
// it (see Elector.watch).
func (l *Leadership) LastRenewal() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.renewed
}

// setRenewed records a successful renewal sent at sent.
func (l *Leadership) setRenewed(sent time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if sent.After(l.renewed) {
		l.renewed = sent
	}
}
