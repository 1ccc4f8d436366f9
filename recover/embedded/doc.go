// Package embedded starts the single-node etcd a monitor keeps its store in
// by default (Start), with an in-process client and no TCP port: clients
// reach it through a unix socket, its peer mux through another, both in a
// 0700 directory. The settings it shares with package ha's peers (socket
// modes, compaction, defragmentation) are package internal/etcdembed's.
//
// It does not read or write records (package recover/store does).
package embedded
