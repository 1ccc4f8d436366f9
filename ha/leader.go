package ha

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Leader is who leads, as the leader key says.
type Leader struct {
	Name    string    `json:"name"`
	Address string    `json:"address,omitempty"` // the monitor's API address
	Since   time.Time `json:"since,omitzero"`    // zero until the winner published it
	Rev     int64     `json:"-"`                 // the leader key's CreateRevision: its epoch
	Key     string    `json:"-"`
}

// Leader returns who leads now, or an error wrapping ErrNoLeader.
func (e *Elector) Leader(ctx context.Context) (Leader, error) {
	resp, err := e.cfg.Client.Get(ctx, e.cfg.Prefix+"/", clientv3.WithFirstCreate()...)
	if err != nil {
		return Leader{}, fmt.Errorf("read leader: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return Leader{}, fmt.Errorf("read leader: %w", ErrNoLeader)
	}
	return decodeLeader(resp.Kvs[0].Key, resp.Kvs[0].Value, resp.Kvs[0].CreateRevision), nil
}

func decodeLeader(key, value []byte, rev int64) Leader {
	var l Leader
	if json.Unmarshal(value, &l) != nil {
		l = Leader{Name: string(value)} // a candidate that is not an understudy monitor
	}
	l.Key, l.Rev = string(key), rev
	return l
}

// Observe sends who leads now, then every change (a new leader, or the
// winner publishing since when it leads); the zero Leader means nobody
// leads. The channel closes when ctx ends.
func (e *Elector) Observe(ctx context.Context) <-chan Leader {
	out := make(chan Leader, 1)
	go func() {
		defer close(out)
		var last Leader
		first := true
		for ctx.Err() == nil {
			resp, err := e.cfg.Client.Get(ctx, e.cfg.Prefix+"/", clientv3.WithFirstCreate()...)
			if err != nil {
				if !sleep(ctx, 200*time.Millisecond) {
					return
				}
				continue
			}
			var cur Leader
			if len(resp.Kvs) > 0 {
				cur = decodeLeader(resp.Kvs[0].Key, resp.Kvs[0].Value, resp.Kvs[0].CreateRevision)
			}
			if first || cur != last {
				select {
				case out <- cur:
				case <-ctx.Done():
					return
				}
				first, last = false, cur
			}
			e.waitChange(ctx, resp.Header.Revision+1)
		}
	}()
	return out
}

// waitChange returns at the first change under the election prefix from
// revision rev on, or when the watch fails or ctx ends.
func (e *Elector) waitChange(ctx context.Context, rev int64) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for wr := range e.cfg.Client.Watch(wctx, e.cfg.Prefix+"/", clientv3.WithPrefix(), clientv3.WithRev(rev)) {
		if wr.Err() != nil || len(wr.Events) > 0 {
			return
		}
	}
}

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Monitors returns every monitor that campaigns now, the leader first, then
// the followers in the order they would take over. A follower's Since is
// zero: only the leader publishes it.
func (e *Elector) Monitors(ctx context.Context) ([]Leader, error) {
	resp, err := e.cfg.Client.Get(ctx, e.cfg.Prefix+"/", clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortAscend))
	if err != nil {
		return nil, fmt.Errorf("list monitors: %w", err)
	}
	out := make([]Leader, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out = append(out, decodeLeader(kv.Key, kv.Value, kv.CreateRevision))
	}
	return out, nil
}

// ClearStale deletes the candidacies left under this monitor's name by an
// earlier run of it (a crash leaves its key until the lease expires), so a
// restarted monitor need not wait a TTL to lead again. Call it once before
// the first Campaign. Monitor names must be unique: a second live monitor
// of the same name would be deposed, although its writes stay fenced.
func (e *Elector) ClearStale(ctx context.Context) (int, error) {
	mons, err := e.Monitors(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range mons {
		if m.Name != e.cfg.Name {
			continue
		}
		if _, err := e.cfg.Client.Delete(ctx, m.Key); err != nil {
			return n, fmt.Errorf("delete stale candidacy %s of %q: %w", m.Key, e.cfg.Name, err)
		}
		n++
	}
	return n, nil
}
