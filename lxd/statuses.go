package lxd

import (
	"context"
	"fmt"

	"github.com/lxc/incus/v6/shared/api"
)

// Statuses reads the status of every instance of the daemon (default
// project) in one request, by name. Unlike State it carries no addresses:
// it is the cheap read for a caller that needs many instances' status at
// once, where one State per instance costs a state request each (the
// daemon reads cgroups and network interfaces for every one).
func (c *Client) Statuses(ctx context.Context) (map[string]State, error) {
	insts, err := call(ctx, func() ([]api.Instance, error) { return c.srv.GetInstances(api.InstanceTypeAny) })
	if err != nil {
		return nil, fmt.Errorf("list instances on %q: %w", c.name, err)
	}
	out := make(map[string]State, len(insts))
	for _, in := range insts {
		out[in.Name] = State{
			Status:  in.Status,
			Running: in.StatusCode == api.Running,
			Frozen:  in.StatusCode == api.Frozen,
		}
	}
	return out, nil
}
