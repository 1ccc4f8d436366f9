// Package store persists the incident core's service records (package
// recover's Record: state, placement, the open or last incident), hands out
// the monitor epoch and streams placement changes. Store is the interface
// the executor and the monitor use; Memory keeps records in memory (tests,
// a monitor without persistence) and Etcd keeps them in etcd over clientv3,
// optionally guarded so that a deposed leader's writes are refused
// (ErrFenced). Both encode records the same way, as JSON.
//
// The package does not start etcd (package recover/embedded does, for a
// single monitor; package ha for a cluster of monitors).
package store
