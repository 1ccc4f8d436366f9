package probe

import (
	"context"
	"fmt"
	"sync"
)

// instance asks t.Hypervisor whether t.Instance runs.
func (p *probers) instance(ctx context.Context, t Target) error {
	h, err := p.hypervisorAPI(t)
	if err != nil {
		return err
	}
	running, err := h.State(ctx, t.Instance)
	if err != nil {
		return fmt.Errorf("read state of instance %q on hypervisor %q: %w", t.Instance, t.Hypervisor, err)
	}
	if !running {
		return fmt.Errorf("instance %q on hypervisor %q: %w", t.Instance, t.Hypervisor, ErrNotRunning)
	}
	return nil
}

// hypervisor checks that t.Hypervisor's API answers and, when t.Address is
// set, that the address answers ICMP; both run at once and both must pass.
func (p *probers) hypervisor(ctx context.Context, t Target) error {
	h, err := p.hypervisorAPI(t)
	if err != nil {
		return err
	}
	var icmpErr error
	var wg sync.WaitGroup
	if t.Address != "" {
		wg.Go(func() { icmpErr = p.icmp(ctx, t) })
	}
	apiErr := h.CheckAPI(ctx)
	wg.Wait()
	switch {
	case apiErr != nil && icmpErr != nil:
		return fmt.Errorf("hypervisor %q: api: %w; address: %w", t.Hypervisor, apiErr, icmpErr)
	case apiErr != nil:
		return fmt.Errorf("hypervisor %q: api: %w (address answers)", t.Hypervisor, apiErr)
	case icmpErr != nil:
		return fmt.Errorf("hypervisor %q: address: %w (api answers)", t.Hypervisor, icmpErr)
	}
	return nil
}

func (p *probers) hypervisorAPI(t Target) (Hypervisor, error) {
	h := p.deps.Hypervisors[t.Hypervisor]
	if h == nil {
		return nil, fmt.Errorf("hypervisor %q: no API client: %w", t.Hypervisor, ErrNotConfigured)
	}
	return h, nil
}
