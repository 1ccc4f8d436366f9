package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/understudy/understudy/recover"
)

var _ Store = (*Etcd)(nil)

// DefaultPrefix is where Etcd keeps its keys:
//
//	<prefix>epoch                    the monitor epoch, a decimal counter
//	<prefix>services/<name>          the service's Record (JSON)
//	<prefix>placements/<name>        its Placement (JSON), written only when it changes
//	<prefix>incidents/<name>/<id>    every closed incident (JSON), for history
//	<prefix>leader/<lease>           the monitors' candidacies (package ha)
const DefaultPrefix = "/understudy/"

// Etcd is a Store in etcd, through clientv3: the same code serves the
// embedded single-node etcd and an external cluster.
type Etcd struct {
	cli    *clientv3.Client
	prefix string
	guard  []clientv3.Cmp // every write requires these to hold; see Guarded
	hub    *placementHub  // the one placement watch, shared by Guarded copies
}

// NewEtcd returns a store using cli under prefix (DefaultPrefix when empty).
func NewEtcd(cli *clientv3.Client, prefix string) *Etcd {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &Etcd{cli: cli, prefix: prefix, hub: newPlacementHub(cli, prefix+"placements/")}
}

// Close stops the store's placement watch and closes every watcher's
// channel. The client stays open; its owner closes it.
func (s *Etcd) Close() { s.hub.close() }

func (s *Etcd) serviceKey(name string) string   { return s.prefix + "services/" + name }
func (s *Etcd) placementKey(name string) string { return s.prefix + "placements/" + name }
func (s *Etcd) epochKey() string                { return s.prefix + "epoch" }

// Load returns every service record, sorted by service.
func (s *Etcd) Load(ctx context.Context) ([]recover.Record, error) {
	resp, err := s.cli.Get(ctx, s.prefix+"services/", clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("load service records from etcd: %w", err)
	}
	out := make([]recover.Record, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		rec, err := decodeRecord(kv.Value)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", kv.Key, err)
		}
		out = append(out, rec)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out, nil
}

// Save writes the record, the placement when its value changed, and the
// incident's history entry when it is closed, in one transaction.
func (s *Etcd) Save(ctx context.Context, rec recover.Record) error {
	b, err := encodeRecord(rec)
	if err != nil {
		return err
	}
	pb, err := json.Marshal(rec.Placement)
	if err != nil {
		return fmt.Errorf("encode placement of %q: %w", rec.Service, err)
	}
	ops := []clientv3.Op{clientv3.OpPut(s.serviceKey(rec.Service), string(b))}
	if inc := rec.Incident; inc != nil && !inc.Open() {
		ib, err := json.Marshal(inc)
		if err != nil {
			return fmt.Errorf("encode incident %s: %w", inc.ID, err)
		}
		ops = append(ops, clientv3.OpPut(s.prefix+"incidents/"+rec.Service+"/"+inc.ID, string(ib)))
	}
	pk := s.placementKey(rec.Service)
	if len(s.guard) > 0 {
		return s.saveGuarded(ctx, rec.Service, ops, pk, string(pb))
	}
	_, err = s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.Value(pk), "=", string(pb))).
		Then(ops...).
		Else(append(ops, clientv3.OpPut(pk, string(pb)))...).
		Commit()
	if err != nil {
		return fmt.Errorf("save record of %q to etcd: %w", rec.Service, err)
	}
	return nil
}

// CurrentEpoch returns the stored epoch, 0 when none was ever taken (a new
// cluster).
func (s *Etcd) CurrentEpoch(ctx context.Context) (uint64, error) {
	resp, err := s.cli.Get(ctx, s.epochKey())
	if err != nil {
		return 0, fmt.Errorf("read epoch: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return 0, nil
	}
	ep, err := strconv.ParseUint(string(resp.Kvs[0].Value), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read epoch: key %s holds %q: %w", s.epochKey(), resp.Kvs[0].Value, err)
	}
	return ep, nil
}

// NextEpoch increments the epoch with a compare-and-swap on its revision.
func (s *Etcd) NextEpoch(ctx context.Context) (uint64, error) {
	return s.RaiseEpoch(ctx, 0)
}

// RaiseEpoch sets the epoch to the larger of its current value plus one and
// floor, with a compare-and-swap on its revision, and returns the new value.
// A leader passes its election revision as floor, so the epoch it sends to
// agents is that revision and still grows when an older counter was larger.
func (s *Etcd) RaiseEpoch(ctx context.Context, floor uint64) (uint64, error) {
	key := s.epochKey()
	for {
		resp, err := s.cli.Get(ctx, key)
		if err != nil {
			return 0, fmt.Errorf("read epoch: %w", err)
		}
		var cur uint64
		var rev int64
		if len(resp.Kvs) == 1 {
			rev = resp.Kvs[0].ModRevision
			if cur, err = strconv.ParseUint(string(resp.Kvs[0].Value), 10, 64); err != nil {
				return 0, fmt.Errorf("read epoch: key %s holds %q: %w", key, resp.Kvs[0].Value, err)
			}
		}
		next := max(cur+1, floor)
		ok, err := s.swapEpoch(ctx, key, rev, next)
		if err != nil {
			return 0, err
		}
		if ok {
			return next, nil
		}
	}
}

// WatchPlacements returns the placements and a channel of every later
// change, so no change is missed or seen twice. Every caller shares one
// etcd watch (see placementHub); the channel closes when ctx ends, when the
// caller falls behind by watchBuffer changes or when the watch fails (then
// the caller lists again). Past DefaultMaxWatchers callers it fails with
// ErrTooManyWatchers.
func (s *Etcd) WatchPlacements(ctx context.Context) ([]recover.Placement, <-chan recover.Placement, error) {
	return s.hub.subscribe(ctx)
}

// History returns the closed incidents of a service, oldest first.
func (s *Etcd) History(ctx context.Context, service string) ([]recover.Incident, error) {
	resp, err := s.cli.Get(ctx, s.prefix+"incidents/"+service+"/", clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("read incident history of %q: %w", service, err)
	}
	out := make([]recover.Incident, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var inc recover.Incident
		if err := json.Unmarshal(kv.Value, &inc); err != nil {
			return nil, fmt.Errorf("decode %s: %w", kv.Key, err)
		}
		out = append(out, inc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Opened.Before(out[j].Opened) })
	return out, nil
}

// Watchers is how many WatchPlacements callers the store streams to now.
func (s *Etcd) Watchers() int { return s.hub.watchers() }
