package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Guarded returns a copy of s whose every write (Save, NextEpoch,
// RaiseEpoch) commits only if all of cmps hold, checked in the same etcd
// transaction as the write. When they do not hold, the write changes
// nothing and returns an error wrapping ErrFenced. Reads are not guarded.
//
// Package ha passes the leader key's compare
// (Compare(CreateRevision(key), "=", rev)), so a deposed leader cannot
// write. s itself stays unguarded.
func (s *Etcd) Guarded(cmps ...clientv3.Cmp) *Etcd {
	return &Etcd{cli: s.cli, prefix: s.prefix, guard: slices.Clone(cmps), hub: s.hub}
}

// saveGuarded is Save's transaction under the guard: the placement compare
// runs nested inside the guarded branch.
func (s *Etcd) saveGuarded(ctx context.Context, service string, ops []clientv3.Op, pk, placement string) error {
	same := []clientv3.Cmp{clientv3.Compare(clientv3.Value(pk), "=", placement)}
	changed := append(slices.Clone(ops), clientv3.OpPut(pk, placement))
	tr, err := s.cli.Txn(ctx).
		If(s.guard...).
		Then(clientv3.OpTxn(same, ops, changed)).
		Commit()
	if err != nil {
		return fmt.Errorf("save record of %q to etcd: %w", service, err)
	}
	if !tr.Succeeded {
		return fmt.Errorf("save record of %q to etcd: %w", service, ErrFenced)
	}
	return nil
}

// swapEpoch writes next to key if its revision is still rev, under the
// guard when there is one. ok is false when the revision moved on.
func (s *Etcd) swapEpoch(ctx context.Context, key string, rev int64, next uint64) (ok bool, err error) {
	cas := clientv3.Compare(clientv3.ModRevision(key), "=", rev)
	put := clientv3.OpPut(key, strconv.FormatUint(next, 10))
	if len(s.guard) == 0 {
		tr, err := s.cli.Txn(ctx).If(cas).Then(put).Commit()
		if err != nil {
			return false, fmt.Errorf("increment epoch: %w", err)
		}
		return tr.Succeeded, nil
	}
	tr, err := s.cli.Txn(ctx).
		If(s.guard...).
		Then(clientv3.OpTxn([]clientv3.Cmp{cas}, []clientv3.Op{put}, nil)).
		Commit()
	if err != nil {
		return false, fmt.Errorf("increment epoch: %w", err)
	}
	if !tr.Succeeded {
		return false, fmt.Errorf("increment epoch: %w", ErrFenced)
	}
	return tr.Responses[0].GetResponseTxn().Succeeded, nil
}
