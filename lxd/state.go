package lxd

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"time"

	incus "github.com/lxc/incus/v6/client"
	"github.com/lxc/incus/v6/shared/api"
)

// State is what State reports about an instance.
type State struct {
	Status    string                  // the daemon's word: Running, Stopped, Frozen, ...
	Running   bool                    // running (not frozen)
	Frozen    bool                    // frozen
	Addresses map[string][]netip.Addr // global IPv4 and IPv6 addresses per NIC (lo excluded)
}

// State reads the instance's status and addresses. It returns ErrNotFound
// when the instance does not exist.
func (c *Client) State(ctx context.Context, name string) (State, error) {
	st, err := c.rawState(ctx, name)
	if err != nil {
		return State{}, fmt.Errorf("get state of instance %q on %q: %w", name, c.name, err)
	}
	return toState(st), nil
}

func toState(st *api.InstanceState) State {
	s := State{
		Status:    st.Status,
		Running:   st.StatusCode == api.Running,
		Frozen:    st.StatusCode == api.Frozen,
		Addresses: map[string][]netip.Addr{},
	}
	for nic, n := range st.Network {
		if nic == "lo" {
			continue
		}
		for _, a := range n.Addresses {
			if a.Scope != "global" {
				continue
			}
			ip, err := netip.ParseAddr(a.Address)
			if err != nil {
				continue
			}
			s.Addresses[nic] = append(s.Addresses[nic], ip)
		}
	}
	return s
}

func (c *Client) rawState(ctx context.Context, name string) (*api.InstanceState, error) {
	st, err := c.retryState(ctx, func() (*api.InstanceState, error) {
		return call(ctx, func() (*api.InstanceState, error) {
			st, _, err := c.srv.GetInstanceState(name)
			return st, err
		})
	})
	if err != nil {
		return nil, notFound(err)
	}
	return st, nil
}

// WaitIPv4 polls the instance state until the NIC (e.g. "eth0") has a
// global IPv4 address, and returns it. It waits until ctx ends, also while
// the instance is stopped (a caller may start it concurrently).
func (c *Client) WaitIPv4(ctx context.Context, name, nic string) (netip.Addr, error) {
	t := time.NewTicker(c.pollInterval)
	defer t.Stop()
	for {
		st, err := c.rawState(ctx, name)
		if err == nil {
			for _, a := range toState(st).Addresses[nic] {
				if a.Is4() {
					return a, nil
				}
			}
		} else if errors.Is(err, ErrNotFound) || ctx.Err() == nil {
			return netip.Addr{}, fmt.Errorf("wait for IPv4 of %s in instance %q on %q: %w", nic, name, c.name, err)
		}
		select {
		case <-ctx.Done():
			return netip.Addr{}, fmt.Errorf("wait for IPv4 of %s in instance %q on %q: %w", nic, name, c.name, ctx.Err())
		case <-t.C:
		}
	}
}

// changeState sends one state change and waits for it.
func (c *Client) changeState(ctx context.Context, name string, put api.InstanceStatePut) error {
	err := c.runOp(ctx, func() (incus.Operation, error) { return c.srv.UpdateInstanceState(name, put, "") })
	return notFound(err)
}

// Start starts the instance; a frozen one is unfrozen. It does nothing when
// the instance already runs.
func (c *Client) Start(ctx context.Context, name string) error {
	st, err := c.rawState(ctx, name)
	if err == nil {
		switch st.StatusCode {
		case api.Running:
			return nil
		case api.Frozen:
			err = c.changeState(ctx, name, api.InstanceStatePut{Action: "unfreeze", Timeout: -1})
		default:
			err = c.changeState(ctx, name, api.InstanceStatePut{Action: "start", Timeout: -1})
		}
	}
	if err != nil {
		return busy(fmt.Errorf("start instance %q on %q: %w", name, c.name, err))
	}
	return nil
}

// Stop stops the instance: first gracefully, giving it timeout to shut
// down, then forced. A timeout of 0 forces at once. It does nothing when the
// instance is already stopped.
func (c *Client) Stop(ctx context.Context, name string, timeout time.Duration) error {
	if err := c.stop(ctx, name, timeout); err != nil {
		return fmt.Errorf("stop instance %q on %q: %w", name, c.name, err)
	}
	return nil
}

func (c *Client) stop(ctx context.Context, name string, timeout time.Duration) error {
	st, err := c.rawState(ctx, name)
	if err != nil {
		return err
	}
	if st.StatusCode == api.Stopped {
		return nil
	}
	if timeout <= 0 || st.StatusCode == api.Frozen {
		// A frozen instance cannot act on a shutdown signal.
		return c.forceStop(ctx, name)
	}
	// The API counts whole seconds, and 0 would mean "force" to the daemon.
	secs := max(1, int(math.Ceil(timeout.Seconds())))
	graceErr := c.changeState(ctx, name, api.InstanceStatePut{Action: "stop", Timeout: secs})
	if graceErr == nil || ctx.Err() != nil {
		return graceErr
	}
	c.log.Debug("graceful stop failed, forcing", "instance", name, "err", graceErr)
	if err := c.forceStop(ctx, name); err != nil {
		return fmt.Errorf("forced stop after graceful stop failed (%v): %w", graceErr, err)
	}
	return nil
}

// forceStop kills the instance; already stopped is fine.
func (c *Client) forceStop(ctx context.Context, name string) error {
	err := c.changeState(ctx, name, api.InstanceStatePut{Action: "stop", Force: true, Timeout: -1})
	if err == nil {
		return nil
	}
	// Lost a race with another stop: accept the outcome, not the message.
	if st, serr := c.rawState(ctx, name); serr == nil && st.StatusCode == api.Stopped {
		return nil
	}
	return err
}

// Unfreeze resumes a frozen instance; a running one is left as is.
func (c *Client) Unfreeze(ctx context.Context, name string) error {
	if err := c.unfreeze(ctx, name); err != nil {
		return fmt.Errorf("unfreeze instance %q on %q: %w", name, c.name, err)
	}
	return nil
}

// unfreeze thaws the instance unless it runs already.
func (c *Client) unfreeze(ctx context.Context, name string) error {
	st, err := c.rawState(ctx, name)
	if err != nil {
		return err
	}
	if st.StatusCode == api.Running {
		return nil
	}
	return c.changeState(ctx, name, api.InstanceStatePut{Action: "unfreeze", Timeout: -1})
}
