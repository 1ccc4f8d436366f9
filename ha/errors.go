package ha

import (
	"errors"
	"fmt"

	"github.com/understudy/understudy/recover/store"
)

// Errors callers branch on.
var (
	// ErrNotLeader: this monitor does not hold (or no longer holds) the
	// leadership a write or call needed. It wraps store.ErrFenced, so
	// errors.Is(err, store.ErrFenced) holds too. Stop acting; campaign
	// again to lead again.
	ErrNotLeader = fmt.Errorf("not the leader: %w", store.ErrFenced)
	// ErrNoLeader: nobody leads right now (Elector.Leader).
	ErrNoLeader = errors.New("no leader")
	// ErrTooFewPeers: an embedded cluster needs at least three voting
	// members to survive the loss of one.
	ErrTooFewPeers = errors.New("too few peers: 3 voting members are the minimum to tolerate one loss")
)
