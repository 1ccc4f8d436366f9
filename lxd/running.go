package lxd

import (
	"context"
	"errors"
	"fmt"

	"github.com/lxc/incus/v6/shared/api"
)

// ErrNoInstanceList: the server the client talks to cannot list its
// instances with their state (a test's fake).
var ErrNoInstanceList = errors.New("server cannot list instances with their state")

// fullLister is the part of incus.InstanceServer RunningInstances uses.
type fullLister interface {
	GetInstancesFull(instanceType api.InstanceType) ([]api.InstanceFull, error)
}

// RunningInstances returns the daemon's running containers (default
// project) with the PID of each one's init, in one request: where the
// agent finds its instances' cgroups (load-source: cgroups).
func (c *Client) RunningInstances(ctx context.Context) (map[string]int, error) {
	l, ok := c.srv.(fullLister)
	if !ok {
		return nil, fmt.Errorf("list instances on %q: %w", c.name, ErrNoInstanceList)
	}
	insts, err := call(ctx, func() ([]api.InstanceFull, error) { return l.GetInstancesFull(api.InstanceTypeContainer) })
	if err != nil {
		return nil, fmt.Errorf("list instances on %q: %w", c.name, err)
	}
	out := map[string]int{}
	for _, in := range insts {
		if in.State != nil && in.State.StatusCode == api.Running && in.State.Pid > 0 {
			out[in.Name] = int(in.State.Pid)
		}
	}
	return out, nil
}
