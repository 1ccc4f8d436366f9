package cluster

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// A monitor retries clearing its candidacy only while etcd elects its
// leader; any other error ends the retries at once, with its own cause.
func TestElectingErrorsAreRetriedOthersAreNot(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("list monitors: %w", rpctypes.ErrLeaderChanged), true},
		{fmt.Errorf("list monitors: %w", rpctypes.ErrNoLeader), true},
		{fmt.Errorf("list monitors: %w", rpctypes.ErrTimeout), true},
		{fmt.Errorf("list monitors: %w", context.DeadlineExceeded), true},
		{fmt.Errorf("list monitors: %w", rpctypes.ErrPermissionDenied), false},
		{errors.New("connection refused by a proxy"), false},
	} {
		if got := electing(c.err); got != c.want {
			t.Errorf("electing(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
