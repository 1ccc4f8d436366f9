package ha

import (
	"context"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// Why a leadership ended, as Leadership.Lost reports it.
const (
	lostSession = "session lease lost"
	lostExpiry  = "lease not renewed within its TTL"
	lostKey     = "leader key deleted"
	lostClosed  = "elector closed"
	lostResign  = "resigned"
	lostFenced  = "a guarded write was refused"
)

// renew renews the session's lease once and returns until when this
// monitor may act as leader: the time the renewal was sent plus the TTL,
// less a tenth of the TTL for scheduling delays. etcd starts the TTL when
// it processes the renewal, later than it was sent, so the leader steps
// down before etcd can expire its lease.
func (e *Elector) renew(ctx context.Context, lease clientv3.LeaseID, timeout time.Duration) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	sent := time.Now()
	if _, err := e.cfg.Client.KeepAliveOnce(ctx, lease); err != nil {
		return time.Time{}, fmt.Errorf("renew lease %x: %w", lease, err)
	}
	return sent.Add(e.validity()), nil
}

// validity is how long after a renewal was sent the leader may act: the
// TTL less a tenth for scheduling delays.
func (e *Elector) validity() time.Duration {
	ttl := time.Duration(e.ttlSeconds()) * time.Second
	return ttl - ttl/10
}

// watch ends l when its lease could have expired, its session is lost or
// its key disappears, and returns when l ended or ctx did.
//
// The session's keepalive alone notices a lost lease up to a TTL late; so
// the leader renews the lease itself every TTL/3 and steps down when no
// renewal succeeded for 0.9 TTL since it was sent: before etcd can expire
// the lease and another monitor can win.
func (e *Elector) watch(ctx context.Context, sess *concurrency.Session, l *Leadership, valid time.Time) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	gone := make(chan string, 1)
	go func() { gone <- e.watchKey(ctx, l) }()
	every := time.Duration(e.ttlSeconds()) * time.Second / 3
	tick := time.NewTicker(every)
	defer tick.Stop()
	expiry := time.NewTimer(time.Until(valid))
	defer expiry.Stop()
	why, got := "", false
	for why == "" && !got {
		select {
		case <-sess.Done():
			why = lostSession
		case why = <-gone:
			got = true
		case <-expiry.C:
			why = lostExpiry
		case <-tick.C:
			if until, err := e.renew(ctx, sess.Lease(), min(every, time.Until(valid))); err == nil {
				valid = until
				l.setRenewed(until.Add(-e.validity()))
				expiry.Reset(time.Until(valid))
			}
			continue
		case <-l.Done():
		case <-ctx.Done():
		}
		break
	}
	cancel()
	if !got {
		<-gone
	}
	if why != "" && why != "stopped" {
		e.log.Warn("leadership lost", "reason", why, "epoch", l.Rev)
		l.end(why)
	}
	if r := l.Lost(); r != "" && r != lostResign && r != lostClosed {
		// A term that ended by itself leaves its lease behind: revoke it,
		// so the key goes and the next term starts with a new session,
		// a new key and a larger epoch.
		sess.Close()
	}
}

// watchKey returns when l's key is deleted (or recreated by someone else),
// or "stopped" when ctx ends.
func (e *Elector) watchKey(ctx context.Context, l *Leadership) string {
	from := l.Rev + 1
	for {
		for wr := range e.cfg.Client.Watch(ctx, l.Key, clientv3.WithRev(from)) {
			if wr.Err() != nil {
				break
			}
			for _, ev := range wr.Events {
				if ev.Type == clientv3.EventTypeDelete || ev.Kv.CreateRevision != l.Rev {
					return lostKey
				}
			}
		}
		if ctx.Err() != nil {
			return "stopped"
		}
		// The watch failed (compaction, a lost stream): check the key, then
		// watch again from now.
		resp, err := e.cfg.Client.Get(ctx, l.Key)
		switch {
		case err != nil:
		case len(resp.Kvs) == 0 || resp.Kvs[0].CreateRevision != l.Rev:
			return lostKey
		default:
			from = resp.Header.Revision + 1
		}
		if !sleep(ctx, 200*time.Millisecond) {
			return "stopped"
		}
	}
}
